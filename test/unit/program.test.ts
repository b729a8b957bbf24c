import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

/** A copy of the program's sources beside this checkout's node_modules, as the e2e workspaces make. */
function copyProgram(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-program-"));
  for (const entry of ["program.js", "index.ts", "package.json", "tsconfig.json", "config", "components", "lib"]) {
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** Load program.js in a plain node (as pulumi does, without ts-node); where its build lives. */
function load(dir: string): string {
  const script = `const f = require(${JSON.stringify(path.join(dir, "program.js"))}); if (typeof f !== "function") throw new Error("exports " + typeof f);
    const m = Object.keys(require.cache).find((k) => k.includes("ai4artsed-program") && k.endsWith("index.js")); console.log(require("path").dirname(m));`;
  return execFileSync(process.execPath, ["-e", script], { cwd: dir }).toString().trim();
}

test("program.js runs the program as JavaScript, built once per content; a changed source is a new build", () => {
  const dir = copyProgram();
  try {
    const build = load(dir);
    assert.equal(load(dir), build, "the same sources load the same build");
    assert.equal(fs.realpathSync(path.join(build, "components", "remote")), path.join(fs.realpathSync(dir), "components", "remote"), "remote scripts are read from the checkout");
    assert.ok(fs.existsSync(path.join(build, "components", "environment.js")));
    // A real source the program imports (appending to a path that is not one would only add a file).
    const source = path.join(dir, "lib", "paths.ts");
    assert.ok(fs.existsSync(source) && fs.existsSync(path.join(build, "lib", "paths.js")), "lib/paths.ts is part of the build");
    fs.appendFileSync(source, "\nexport const CHANGED = 1;\n");
    const rebuilt = load(dir);
    assert.notEqual(rebuilt, build);
    assert.match(fs.readFileSync(path.join(rebuilt, "lib", "paths.js"), "utf8"), /CHANGED = 1/);
    fs.rmSync(build, { recursive: true, force: true });
    fs.rmSync(rebuilt, { recursive: true, force: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** `pulumi stack init` on a fresh checkout fails when the file backend's directory is missing. */
test("Pulumi.yaml's state directory is in every checkout, and what pulumi writes there is never committed", () => {
  const url = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8").match(/^\s+url: file:\/\/(\S+)$/m)?.[1];
  assert.equal(url, ".pulumi-state");
  assert.deepEqual(execFileSync("git", ["ls-files", url!], { cwd: ROOT, encoding: "utf8" }).trim().split("\n"), [`${url}/.gitignore`]);
  const ignored = execFileSync("git", ["check-ignore", "--no-index", `${url}/.pulumi/stacks/ai4artsed/production.json`, `${url}/local-passphrase`], { cwd: ROOT, encoding: "utf8" });
  assert.equal(ignored.trim().split("\n").length, 2);
});
