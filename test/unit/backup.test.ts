/**
 * scripts/backup.sh's work (scripts/backup.ts) without a server: the command line, and the script
 * it sends, built from the stack's settings as the program parses them (test/host/operations and
 * offsite run it against servers).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { parseStackConfig } from "../../config/load";
import { backupScript, parseBackupArgs } from "../../scripts/backup";
import { rawConfig, SECRET_SECTIONS, TEST_HOST_KEY, TEST_PRIVATE_KEY } from "./fixtures";

const HEALTH = "http://127.0.0.1:17801/api/schema/info";
const BACKUP_SH = path.join(__dirname, "..", "..", "scripts", "backup.sh");

function config(overrides: Parameters<typeof rawConfig>[0] = {}, stack = "production") {
  return parseStackConfig(stack, rawConfig(overrides), SECRET_SECTIONS).config;
}

test("the command line: each action's arguments, latest by default; anything else is a usage error", () => {
  assert.deepEqual(parseBackupArgs(["list", "production"]), { action: "list", stack: "production", backup: "latest", restorePath: "" });
  assert.deepEqual(parseBackupArgs(["restore-offsite", "development", "1a2b3c4d", "exports/Klasse 7a"]), {
    action: "restore-offsite",
    stack: "development",
    backup: "1a2b3c4d",
    restorePath: "exports/Klasse 7a",
  });
  for (const bad of [[], ["list"], ["purge", "production"], ["list", "production", "extra"], ["restore", "production", "a", "b"]]) {
    assert.equal(parseBackupArgs(bad), undefined, bad.join(" "));
  }
});

test("scripts/backup.sh: a usage error says the usage (exit 2) before anything else; a missing pulumi is named (exit 1)", () => {
  // PATH without the engine's directory: the checks come before pulumi is needed.
  const run = (...args: string[]) => spawnSync("bash", [BACKUP_SH, ...args], { encoding: "utf8", env: { ...process.env, PATH: "/usr/local/bin:/usr/bin:/bin" } });
  for (const bad of [[], ["purge", "production"], ["list", "production", "extra"]]) {
    const result = run(...bad);
    assert.equal(result.status, 2, bad.join(" "));
    assert.match(result.stderr, /^usage: scripts\/backup\.sh list <stack>/);
    assert.equal(result.stdout, "");
  }
  if (spawnSync("bash", ["-c", "PATH=/usr/local/bin:/usr/bin:/bin command -v pulumi"]).status !== 0) {
    const missing = run("list", "production");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /pulumi is not on PATH/);
  }
});

test("the script's defaults come from the schema: install dir, health timeout, EnvironmentFile", () => {
  const script = backupScript(parseBackupArgs(["restore", "development"])!, config({}, "development"), "ai4artsed-development.service", HEALTH);
  assert.match(script, /\nINSTALL_DIR=\/opt\/ai4artsed-development\n/);
  assert.match(script, /\nHEALTH_TIMEOUT_SECONDS=60\n/);
  assert.match(script, /\nENV_FILE=\/etc\/ai4artsed\/ai4artsed-development\.env\n/);
});

test("the script takes the install dir, unit and timeouts from the stack's settings", () => {
  const script = backupScript(parseBackupArgs(["restore", "production"])!, config({ app: { installDir: "/srv/lab", healthTimeoutSeconds: "90" } }), "ai4artsed-production.service", HEALTH);
  assert.match(script, /\nINSTALL_DIR=\/srv\/lab\n/);
  assert.match(script, /\nUNIT_NAME=ai4artsed-production\.service\n/);
  assert.match(script, /\nENV_FILE=\/etc\/ai4artsed\/ai4artsed-production\.env\n/);
  assert.match(script, /\nHEALTH_TIMEOUT_SECONDS=90\n/);
  assert.doesNotMatch(script, /\nAPP_TEMPLATE=/, "the restart strategy's unit has no colors");
});

test("a color that serves: the restore moves to the standby color, with the stack's drain timeout", () => {
  const script = backupScript(parseBackupArgs(["restore", "production"])!, config({ app: { drainTimeoutSeconds: "30" } }), "ai4artsed-production@green.service", HEALTH);
  assert.match(script, /\nAPP_TEMPLATE=ai4artsed-production@\n/);
  assert.match(script, /\nDRAIN_TIMEOUT_SECONDS=30\n/);
  assert.match(script, /\nHEALTH_PATH=\/api\/schema\/info\n/);
});

test("the off-host actions need backup.offsite.repository, and name it when it is missing", () => {
  assert.throws(() => backupScript(parseBackupArgs(["snapshots", "production"])!, config(), "ai4artsed-production.service", HEALTH), /stack production has no off-host backup \(backup\.offsite\.repository\)/);
  const offsite = { repository: "sftp:ai4artsed-backup@10.0.0.3:/production", password: "p".repeat(32), sshKey: TEST_PRIVATE_KEY, hostKey: TEST_HOST_KEY };
  const script = backupScript(parseBackupArgs(["restore-offsite", "production", "latest", "exports"])!, config({ backup: { offsite } }), "ai4artsed-production.service", HEALTH);
  assert.match(script, /\nSNAPSHOT=latest\n/);
  assert.match(script, /\nRESTORE_PATH=exports\n/);
  assert.match(script, /\nREPOSITORY=sftp:ai4artsed-backup@10\.0\.0\.3:\/production\n/);
});
