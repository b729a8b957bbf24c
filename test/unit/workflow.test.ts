/**
 * The app repository's CI workflow (ci/github/ai4artsed.yml), checked without running it:
 * actionlint (built from its Go module by tools/cicd/ensure-ci-tools.sh) finds no problem, and
 * its secrets reach the steps only through their environment. test/e2e/cicd.test.ts runs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ensured } from "../../tools/ensure";

const ROOT = path.join(__dirname, "..", "..");
const WORKFLOW = path.join(ROOT, "ci", "github", "ai4artsed.yml");

test("actionlint finds no problem in the workflow", () => {
  const bin = ensured("tools/cicd/ensure-ci-tools.sh");
  const lint = spawnSync(path.join(bin, "actionlint"), ["-no-color", WORKFLOW]);
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
});

test("secrets reach the steps only through env, never on a command line; deploys of a stack queue, never cancel", () => {
  const text = fs.readFileSync(WORKFLOW, "utf8");
  const runLines = text.split("\n").filter((line) => /^\s*run: /.test(line));
  assert.ok(runLines.length >= 4);
  for (const line of runLines) assert.doesNotMatch(line, /secrets\./, line);
  for (const line of runLines) assert.match(line, /scripts\/ci\.sh|git clone/, `a step does more than call scripts/ci.sh: ${line}`);
  assert.match(text, /group: ai4artsed-deploy-\$\{\{ github\.ref_name \}\}\n\s+cancel-in-progress: false/);
});
