import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import { REMOTE_DIR, remoteInvocation, renderParams, renderScript, ScriptName, shellQuote } from "../../components/steps/commands";

const QUOTING_CASES = ["plain", "two words", "it's", "$HOME", "`id`", "a\"b", "a\\b", "line\nbreak", "", "*", "x=y; rm -rf /", "ü-ß", "'", "--flag"];

test("shellQuote gives bash back every value unchanged", () => {
  for (const value of QUOTING_CASES) {
    const echoed = execFileSync("bash", ["-c", `printf %s ${shellQuote(value)}`]).toString();
    assert.equal(echoed, value, `quoting ${JSON.stringify(value)} as ${shellQuote(value)}`);
  }
});

test("renderParams writes one assignment per parameter and drops absent ones", () => {
  assert.equal(renderParams({ A: "x y", B: 3, C: undefined, D: true }), "A='x y'\nB=3\nD=true");
  assert.throws(() => renderParams({ "bad-name": "x" }), /not a shell variable name/);
});

test("renderScript: strict mode, parameters, helpers, then the script; deterministic", () => {
  const text = renderScript("venv", { INSTALL_DIR: "/opt/x", REQUIREMENTS_BLOB: "ab", PYTHON: "python3" });
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(0, 5), ["# ai4artsed venv", "set -euo pipefail", "INSTALL_DIR=/opt/x", "REQUIREMENTS_BLOB=ab", "PYTHON=python3"]);
  assert.ok(text.indexOf("take_host_lock() {") < text.indexOf("main() {"), "helpers come before the script body");
  assert.match(text, /\nmain "\$@"\n?$/);
  assert.equal(text, renderScript("venv", { INSTALL_DIR: "/opt/x", REQUIREMENTS_BLOB: "ab", PYTHON: "python3" }));
});

test("every rendered script parses as bash: the helpers inlined into it with the script itself", () => {
  // shellcheck checks each file alone; this checks what is sent: lib.sh, the helpers, the body, in one text.
  const scripts = fs.readdirSync(REMOTE_DIR).filter((f) => f.endsWith(".sh") && f !== "lib.sh").map((f) => f.replace(/\.sh$/, "") as ScriptName);
  assert.ok(scripts.length >= 25, scripts.join(" "));
  for (const script of scripts) {
    const text = renderScript(script, { INSTALL_DIR: "/opt/x", COMMIT: "c" });
    assert.match(text, /\nmain "\$@"\n?$/, script);
    execFileSync("bash", ["-n", "-c", text]);
  }
});

test("remoteInvocation runs as root directly, through sudo for another login", () => {
  assert.equal(remoteInvocation("echo 'hi'", "root"), "bash -c 'echo '\\''hi'\\'''");
  assert.equal(remoteInvocation("true", "deploy"), "sudo -n bash -c true");
});

test("a rendered script runs with its parameters and reports a missing one", () => {
  const ok = execFileSync("bash", ["-c", remoteInvocation(renderScript("remove-file", { TARGET_FILE: "/nonexistent/ai4artsed-test" }), "root")]);
  assert.equal(ok.toString(), "");
  assert.throws(
    () => execFileSync("bash", ["-c", renderScript("remove-file", {})], { stdio: "pipe" }),
    (err: { stderr: Buffer }) => /parameter TARGET_FILE is not set/.test(err.stderr.toString()),
  );
});
