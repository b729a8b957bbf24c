import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

/** Every shell script the project keeps, wherever it lives (node_modules aside). */
function shellScripts(): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.sh"], { cwd: ROOT }).toString();
  return listed.split("\n").filter((f) => f && fs.existsSync(path.join(ROOT, f)));
}

test("every shell script is shellcheck-clean", () => {
  const version = spawnSync("shellcheck", ["--version"]);
  assert.equal(version.status, 0, "shellcheck is not installed; scripts/test.sh installs it (apt-get install shellcheck)");
  const scripts = shellScripts();
  assert.ok(scripts.includes("components/remote/activate.sh"), "the remote scripts are found");
  const result = spawnSync("shellcheck", ["--external-sources", "--severity=info", ...scripts], { cwd: ROOT });
  assert.equal(result.status, 0, result.stdout.toString() + result.stderr.toString());
});

test("every remote script is strict, has a header and runs main last", () => {
  const dir = path.join(ROOT, "components", "remote");
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sh") && f !== "lib.sh")) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    assert.match(text, /^#!\/bin\/bash\n# \S/, `${file}: shebang and one-line header`);
    assert.match(text, /\nset -euo pipefail\n/, `${file}: strict mode`);
    assert.match(text, /\nmain "\$@"\n$/, `${file}: main "$@" last`);
  }
});
