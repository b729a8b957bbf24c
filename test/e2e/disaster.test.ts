/**
 * Disaster recovery with the real engine: production backs up to a second test server (set up
 * as the runbook says); then the first server is destroyed, machine and disk. A fresh third
 * server gets the stack's config pointed at it, one `pulumi up`, and the restore from the backup
 * server; every file's sha256, mode and owner name must equal the original, and the app serves.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  BackupKey,
  dataFingerprint,
  linkServers,
  publishRepo,
  publishWheels,
  ROOT,
  SERVER_REPO,
  sh,
  shOk,
  setUpBackupServer,
  startTestBed,
  startTestServer,
  stopTestServer,
  TestServer,
  unlinkServers,
  writeDataSet,
} from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";
import { UV_BINARY } from "../../components/host/host";

const FIRST = `ai4x${process.pid % 10000}`;
const THIRD = `ai4y${process.pid % 10000}`;
const TARGET = `ai4z${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const SHARED = `${PROD}/shared`;
const UNIT = "ai4artsed-production-offsite-backup";
const PASSWORD = "restic-e2e-password-0c7a5d19e2b4";
let first: TestServer;
let third: TestServer | undefined;
let target: TestServer;
let repo: string;
let key: BackupKey;
let ws: PulumiWorkspace;
let original: string;

async function health(server: TestServer): Promise<string> {
  return shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17801/api/schema/info || true");
}

/** scripts/backup.sh as an operator runs it: in the workspace, with the real pulumi reading the stack. */
function backupScript(...args: string[]): string {
  return execFileSync("bash", [path.join(ROOT, "scripts", "backup.sh"), ...args], { cwd: ws.dir, env: ws.env, stdio: ["ignore", "pipe", "pipe"] }).toString();
}

before(async () => {
  ({ server: first, repo } = await startTestBed(FIRST));
  target = startTestServer(TARGET);
  key = await setUpBackupServer(target);
  linkServers(first, target);
  ws = new PulumiWorkspace("production");
  ws.init(first, SERVER_REPO, "production");
  ws.set("backup.offsite.repository", `sftp:ai4artsed-backup@${target.host}:/production`);
  ws.set("backup.offsite.password", PASSWORD, true);
  ws.set("backup.offsite.sshKey", key.privateKey, true);
  ws.set("backup.offsite.hostKey", target.hostKey!);
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(first), "200");
  const resolutions = JSON.parse(ws.ok(["stack", "output", "pythonResolutions", "--json"]).stdout) as Record<string, string>;
  assert.match(Object.values(resolutions)[0] ?? "", /^fixture-pinned==1\.0$/m, "the stack records the venv's resolution");
});

after(() => {
  for (const name of [FIRST, THIRD, TARGET]) stopTestServer(name);
  ws?.remove();
  if (key) fs.rmSync(key.dir, { recursive: true, force: true });
});

test("1. the timer's service backs up production; preview shows the last backup's result and age", async () => {
  // The host test backs up the 60 MB set; here 5 MB keep the suite fast, the names and kinds are the same.
  await writeDataSet(first, SHARED, "ai4artsed-production", 5_000_000);
  // One export written by the app itself, read back through the app after the restore.
  await shOk(first, "curl -sf -X POST --data pupil-work-4711 'http://127.0.0.1:17801/api/export?name=keep.txt'");
  const started = Date.now();
  await shOk(first, `systemctl start ${UNIT}.service`);
  console.log(`# first backup of production's shared/: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const preview = ws.ok(["preview", "--diff"]);
  assert.match(preview.stdout + preview.stderr, /off-host backup: the last one succeeded \d+ min ago \(snapshot [0-9a-f]{8}: \d+ files/);
  assert.match(backupScript("snapshots", "production"), /stack:production/);
});

test("2. an unreachable backup server never fails up", async () => {
  unlinkServers(first, target);
  // A changed retention re-runs the backup's steps; none of them contacts the backup server.
  ws.set("backup.offsite.keepDaily", "8");
  const up = ws.run(["up", "--yes", "--skip-preview"]);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.match(await shOk(first, `cat /usr/local/lib/ai4artsed/${UNIT}.sh`), /\nKEEP_DAILY=8\n/);
  linkServers(first, target);
});

test("3. the exported state holds neither the repository password nor the backup key", () => {
  const state = ws.ok(["stack", "export"]).stdout;
  assert.ok(!state.includes(PASSWORD), "the repository password shows in the state");
  assert.ok(!state.includes(key.privateKey.split("\n")[1]), "the backup key shows in the state");
});

test("4. disaster: the server is gone; a new machine, one up, the restore: every file equal, the app serves", async () => {
  original = await dataFingerprint(first, SHARED);
  stopTestServer(FIRST);
  third = startTestServer(THIRD);
  await publishRepo(third, repo);
  // A newer release of a dependency appeared since: a fresh resolution would take it.
  await publishWheels(third, ["1.0", "1.1"]);
  linkServers(third, target);
  ws.set("server.address", third.host);
  ws.set("server.hostKey", third.hostKey!);
  // The test server's login key is new with every machine; a real operator authorizes the same deploy key.
  ws.set("server.privateKey", third.privateKey, true);
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# up against the new server: ${up.seconds.toFixed(1)} s`);
  assert.equal(await health(third), "200");
  // The rebuild installed what the lost server served, not the newer release.
  assert.match(await shOk(third, `cat ${PROD}/current/venv/.resolution.txt`), /^fixture-pinned==1\.0$/m);
  assert.equal(await shOk(third, `${PROD}/current/venv/bin/python -c 'import fixture_pinned; print(fixture_pinned.VERSION)'`), "1.0");
  assert.match(await shOk(third, `${UV_BINARY} pip compile --quiet --no-header --no-index --find-links /srv/fixture-wheels - <<<'fixture-pinned>=1.0'`), /^fixture-pinned==1\.1$/m, "a fresh resolution would take 1.1");
  // Before the restore, the new server's backup refuses to bury the history with its empty shared/.
  const refused = await sh(third, `systemctl start ${UNIT}.service`);
  assert.notEqual(refused.code, 0);
  assert.match(await shOk(third, `journalctl -u ${UNIT} -o cat --no-pager -n 5`), /holds snapshots of production, but this server never backed up to it nor restored from it/);

  const started = Date.now();
  const restored = backupScript("restore-offsite", "production", "latest");
  console.log(`# full restore onto the new server: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.match(restored, /restored shared\/ from snapshot latest/);
  assert.equal(await dataFingerprint(third, SHARED), original, "every file's sha256, mode, owner and group name, time and link");
  assert.equal(await health(third), "200");
  assert.equal(await shOk(third, "curl -sf http://127.0.0.1:17801/api/export/keep.txt"), "pupil-work-4711", "the app serves the restored exports");
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  // The new server continues the history.
  await shOk(third, `systemctl start ${UNIT}.service`);
  // One history for the retention: the old host's snapshots and the new host's form one group,
  // so the old ones age out like the rest (the installed script's own retention, dry run).
  const script = `/usr/local/lib/ai4artsed/${UNIT}.sh`;
  const plan = await shOk(third, `{ sed '$d' ${script}; echo 'retention_options; offsite_restic forget --dry-run --json "\${RETENTION[@]}"'; } | bash`);
  const groups: Array<{ keep: Array<{ hostname: string }> | null }> = JSON.parse(plan);
  assert.equal(groups.length, 1, plan);
  assert.deepEqual([...new Set(groups[0].keep!.map((s) => s.hostname))].sort(), [FIRST, THIRD].sort(), "both hosts' snapshots in one group");
});
