/**
 * Every remote step on a real Debian server: provisioning, convergence, code and requirements
 * changes, broken commits with rollback, two stacks side by side, firewall, journald,
 * hardening and removal. Steps run in order and share one server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "net";
import { assertFirstStartNeedsMet, TOOL_DIRS } from "./appNeeds";
import { deploy, Deployment, destroy, failedDeploy, headOf, mutate, publishRepo, sh, shOk, startTestBed, StepFailed, stopTestServer, TestServer } from "./harness";

const NAME = `ai4h${process.pid % 10000}`;
/** These tests cover the restart strategy (production's default is blue-green: test/host/bluegreen.test.ts). */
const RESTART = { app: { deployStrategy: "restart" } };
const PROD = "/opt/ai4artsed-production";
const DEV = "/opt/ai4artsed-development";
let server: TestServer;
let repo: string;
let prod: Deployment;
let dev: Deployment;

interface UnitState {
  MainPID: string;
  ActiveState: string;
  ActiveEnterTimestampMonotonic: string;
}

async function unitState(unit: string): Promise<UnitState> {
  const out = await shOk(server, `systemctl show -p MainPID -p ActiveState -p ActiveEnterTimestampMonotonic ${unit}`);
  return Object.fromEntries(out.split("\n").map((l) => l.split("=", 2))) as unknown as UnitState;
}

async function info(port: number): Promise<Record<string, any>> {
  return JSON.parse(await shOk(server, `curl -sf http://127.0.0.1:${port}/api/schema/info`));
}

async function inode(path: string): Promise<string> {
  return shOk(server, `stat -c %i ${path}`);
}

/** True when a TCP connection from this machine to the server's port succeeds within 3 s. */
function reachableFromOutside(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port, timeout: 3000 });
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("timeout", () => (socket.destroy(), resolve(false)));
    socket.on("error", () => resolve(false));
  });
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. fresh provisioning of production serves the main commit", async () => {
  prod = await deploy(server, "production", RESTART);
  assert.equal(prod.facts.commit, headOf(repo, "main"));
  assert.equal((await unitState("ai4artsed-production.service")).ActiveState, "active");
  assert.equal(await shOk(server, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/api/schema/info`), "200");
  assert.equal(await shOk(server, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/`), "200", "dist is built and served");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${prod.facts.commit}`);
  assert.equal(await shOk(server, `readlink ${PROD}/current/venv`), `${PROD}/venvs/${prod.facts.requirementsBlob}`);
  await shOk(server, `test -f ${PROD}/current/venv/.complete && test -f ${PROD}/current/public/ai4artsed-frontend/dist/index.html`);
  assert.equal(await shOk(server, "stat -c '%a %U' /etc/ai4artsed/ai4artsed-production.env"), "600 root");
  const state = await info(17801);
  assert.equal(state.insecure_secret_key, false, "SECRET_KEY is set, not the app's fallback");
  assert.equal(state.secure_cookie, true, "PORT=17801 reaches the app: production cookies");
  assert.equal(await shOk(server, `stat -c %U ${PROD}/current/devserver/server.py`), "root", "code is root-owned");
  assert.equal(await shOk(server, `stat -c %U ${PROD}/shared/exports`), "ai4artsed-production", "the service writes shared/");
  await assertFirstStartNeedsMet(server, PROD, "ai4artsed-production", 17801);
  // The fixture's unimportable distribution (like the real app's torchtune) warns; the app never imports it.
  const out = (step: string) => prod.runs.find((r) => r.step === step)!.result.stdout;
  assert.match(out("python-build"), /warning: venv [0-9a-f]{40}: fixture_unimportable does not import \(ModuleNotFoundError: No module named 'fixture_partner'\); not refused/);
  assert.match(out("python-build"), /warning: venv [0-9a-f]{40}: fixture_recipes does not import \(ModuleNotFoundError: The fixture recipes directory isn't a package\)/);
  assert.match(out("release-export"), /the app's imports load from venv [0-9a-f]{40} \(\d+ modules\)/);
  assert.match(await shOk(server, `cat ${PROD}/current/venv/.app-imports-ok`), /^flask$/m);
  assert.match(await shOk(server, `cat ${PROD}/current/venv/.resolution.txt`), /^fixture-pinned==1\.0$/m, "the resolution is recorded in the venv");
  for (const dir of TOOL_DIRS) assert.equal(await shOk(server, `stat -c '%U %a' ${dir}`), "ai4artsed-production 750", `${dir} made for the service user`);
  await shOk(server, `curl -sf -X POST --data pupil-work 'http://127.0.0.1:17801/api/export?name=keep.txt'`);
  await shOk(server, `install -m 600 -o ai4artsed-production /dev/stdin ${PROD}/shared/devserver/settings_password.key <<<secret-settings-key`);
});

test("2. every step run again with the same inputs changes nothing: no build, no restart", async () => {
  const before = await unitState("ai4artsed-production.service");
  const venvInode = await inode(`${PROD}/venvs/${prod.facts.requirementsBlob}`);
  const again = await deploy(server, "production", RESTART);
  const after = await unitState("ai4artsed-production.service");
  assert.equal(after.MainPID, before.MainPID);
  assert.equal(after.ActiveEnterTimestampMonotonic, before.ActiveEnterTimestampMonotonic);
  assert.equal(await inode(`${PROD}/venvs/${prod.facts.requirementsBlob}`), venvInode);
  const out = (step: string) => again.runs.find((r) => r.step === step)!.result.stdout;
  assert.match(out("python-build"), /reusing/);
  assert.match(out("frontend-build"), /reusing/);
  assert.match(out("release-export"), /reusing release/);
  assert.match(out("service-activate"), /nothing to do/);
  assert.match(out("service-unit"), /up to date/);
  assert.match(out("service-environment"), /up to date/);
});

test("3. a code-only change makes a new release, reuses venv and dist, restarts, serves healthy", async () => {
  const before = await unitState("ai4artsed-production.service");
  const oldDist = await shOk(server, `readlink ${PROD}/current/public/ai4artsed-frontend/dist`);
  const venvInode = await inode(`${PROD}/venvs/${prod.facts.requirementsBlob}`);
  const commit = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const next = await deploy(server, "production", RESTART);
  assert.equal(next.facts.commit, commit);
  assert.equal(next.facts.requirementsBlob, prod.facts.requirementsBlob);
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${commit}`);
  assert.equal(await shOk(server, `readlink ${PROD}/current/public/ai4artsed-frontend/dist`), oldDist);
  assert.equal(await inode(`${PROD}/venvs/${prod.facts.requirementsBlob}`), venvInode);
  assert.notEqual((await unitState("ai4artsed-production.service")).MainPID, before.MainPID, "restarted");
  assert.equal((await info(17801)).version, "2");
  prod = next;
});

test("3b. a frontend change builds with the node_modules of the same lockfile and install command: no install", async () => {
  const deps = `${PROD}/frontends/.deps`;
  const vueInode = () => shOk(server, `stat -c %i ${deps}/*/node_modules/vue/package.json`);
  const before = await vueInode();
  mutate(repo, "main", "frontend");
  await publishRepo(server, repo);
  const next = await deploy(server, "production", RESTART);
  const build = next.runs.find((r) => r.step === "frontend-build")!.result.stdout;
  assert.match(build, /building frontend [0-9a-f]{40}: npm run build \(node_modules reused/, build);
  assert.equal(await vueInode(), before, "npm ci did not run: it would have written node_modules anew");
  assert.match(await shOk(server, `grep -rlo fixture-frontend-rev-2 ${PROD}/current/public/ai4artsed-frontend/dist/assets | head -n 1`), /\.js$/);
  assert.equal(await shOk(server, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/`), "200");
  // Another install command is another key: it installs, and only the newest node_modules stays.
  const other = await deploy(server, "production", { app: { ...RESTART.app, frontendInstallCommand: "npm ci --no-audit" } });
  assert.match(other.runs.find((r) => r.step === "frontend-build")!.result.stdout, /npm ci --no-audit && npm run build/);
  assert.equal(await shOk(server, `ls ${deps} | wc -l`), "1");
  assert.notEqual(await vueInode(), before, "installed anew");
  prod = await deploy(server, "production", RESTART);
  assert.match(prod.runs.find((r) => r.step === "frontend-build")!.result.stdout, /reusing .*dist/, "the build for the default command is still on disk");
});

/** The venv's files with inode, size and mtime: any change to the venv shows in it. */
async function venvListing(venv: string): Promise<string> {
  return shOk(server, `find ${venv} -printf '%i %s %T@ %p\\n' | sort -k4 | sha256sum`);
}

test("4. a requirements change builds a new venv beside the serving one, from the shared uv cache; the old one still serves a rollback", async () => {
  const oldCommit = prod.facts.commit;
  const oldVenv = `${PROD}/venvs/${prod.facts.requirementsBlob}`;
  const serving = await venvListing(oldVenv);
  const commit = mutate(repo, "main", "requirements");
  await publishRepo(server, repo);
  // Poll health inside the server while the venv builds; every probe must succeed.
  await shOk(server, "touch /run/probe.since; rm -f /run/probe.log; (while [ ! -e /run/probe.stop ]; do curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:17801/api/schema/info >>/run/probe.log; sleep 0.2; done) >/dev/null 2>&1 &");
  const built = await deploy(server, "production", RESTART, ["host-packages", "host-layout", "python-build"]);
  await shOk(server, "touch /run/probe.stop; sleep 0.5; rm -f /run/probe.stop");
  assert.notEqual(built.facts.requirementsBlob, prod.facts.requirementsBlob);
  const newVenv = `${PROD}/venvs/${built.facts.requirementsBlob}`;
  const log = built.runs.find((r) => r.step === "python-build")!.result.stdout;
  assert.match(log, /built/);
  assert.match(log, /uv cache \/opt\/ai4artsed-tools\/uv-cache/, log);
  assert.match(log, /imported 1 top-level modules of 1 new or dependent distributions/, "only the added package needs an import check");
  const probes = (await shOk(server, "cat /run/probe.log")).split("\n");
  assert.ok(probes.length > 3, `probed ${probes.length} times`);
  assert.deepEqual([...new Set(probes)], ["200"], "the old release answered throughout the build");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${prod.facts.commit}`, "nothing switched yet");
  assert.equal(await venvListing(oldVenv), serving, "the serving venv is untouched");
  // Shared cache: an unchanged package is the same file in the cache, the old venv and the new one.
  const site = "lib/python3*/site-packages";
  const flask = (venv: string) => shOk(server, `stat -c %i ${venv}/${site}/flask/app.py`);
  assert.equal(await flask(newVenv), await flask(oldVenv), "hardlinked, not copied");
  assert.ok(Number(await shOk(server, `stat -c %h ${newVenv}/${site}/flask/app.py`)) >= 3, "linked from uv's cache too");
  const pyc = (venv: string) => shOk(server, `stat -c %i ${venv}/${site}/flask/__pycache__/app.cpython-*.pyc`);
  assert.equal(await pyc(newVenv), await pyc(oldVenv), "bytecode linked from the previous venv");
  await shOk(server, `ls ${newVenv}/${site}/six*.dist-info >/dev/null && ls ${newVenv}/${site}/__pycache__/six.cpython-*.pyc`);
  // du counts a hardlinked file once, under the first venv it meets: the second line is what the new venv adds.
  const [oldMb, addedMb] = (await shOk(server, `du -sm ${oldVenv} ${newVenv} | cut -f1`)).split("\n").map(Number);
  console.log(`# venv after a one-package requirements change: ${oldMb} MB, the new venv adds ${addedMb} MB`);
  assert.ok(addedMb <= Math.max(2, oldMb * 0.05), `the new venv adds only what changed to the disk: ${addedMb} MB beside ${oldMb} MB`);
  assert.equal(await shOk(server, "find /tmp -mindepth 1 -newer /run/probe.since | head -n 5"), "", "no temporary files in /tmp");
  await shOk(server, `test -z "$(ls -A ${PROD}/venvs | grep '^\\.tmp' || true)"`);
  // Deploy the new requirements, then roll back to the old commit: its venv still boots.
  prod = await deploy(server, "production", RESTART);
  assert.equal(prod.facts.commit, commit);
  assert.equal(await shOk(server, `readlink ${PROD}/current/venv`), newVenv);
  assert.equal((await info(17801)).status, "success");
  const rollback = await deploy(server, "production", { app: { ...RESTART.app, revision: oldCommit } });
  assert.match(rollback.runs.find((r) => r.step === "python-build")!.result.stdout, /reusing/);
  assert.equal(await shOk(server, `readlink ${PROD}/current/venv`), oldVenv);
  assert.equal((await info(17801)).status, "success", "the old venv serves the rolled-back release");
  assert.equal(await venvListing(oldVenv), serving, "serving it changed nothing in it");
  prod = await deploy(server, "production", RESTART);
  assert.equal(await shOk(server, `readlink ${PROD}/current/venv`), newVenv);
});

async function assertStillServing(commit: string): Promise<void> {
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${commit}`);
  assert.equal((await info(17801)).status, "success");
  assert.equal(await shOk(server, `curl -sf http://127.0.0.1:17801/api/export/keep.txt`), "pupil-work");
  assert.equal(await shOk(server, `cat ${PROD}/shared/devserver/settings_password.key`), "secret-settings-key");
}

test("5a. a commit that breaks startup fails the deploy, rolls back, keeps data", async () => {
  const good = prod.facts.commit;
  const bad = mutate(repo, "main", "break-startup");
  await publishRepo(server, repo);
  const failure = await deploy(server, "production", RESTART).then(
    () => assert.fail("the deploy of a crashing commit succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.ok(failure instanceof StepFailed, String(failure));
  assert.equal(failure.step, "service-activate");
  assert.match(failure.result.stderr, new RegExp(`deploy of ${bad} failed \\(the service exited during startup\\); rolled back: ${good} is serving and healthy again`));
  assert.match(failure.result.stderr, /RuntimeError/, "the app's own error is shown");
  await assertStillServing(good);
  assert.match(await shOk(server, `tail -n 2 ${PROD}/revisions.log`), /rolled back after failed/);
});

test("5a2. restart strategy: a release that dies inside the watch window is reverted with one restart; a healthy one is kept", async () => {
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", { app: { ...RESTART.app, stableSeconds: 3 } });
  const good = prod.facts.commit;
  assert.match(prod.runs.find((r) => r.step === "service-activate")!.result.stdout, /ai4artsed-production\.service stayed healthy for the 3s watch window/);
  assert.equal((await info(17801)).status, "success");
  const bad = mutate(repo, "main", "die-after-4");
  await publishRepo(server, repo);
  const started = Date.now();
  const failure = await deploy(server, "production", { app: { ...RESTART.app, stableSeconds: 20 } }).then(
    () => assert.fail("a release that died inside the watch window was kept"),
    (err: unknown) => err as StepFailed,
  );
  const seconds = (Date.now() - started) / 1000;
  console.log(`# restart strategy: release died 4 s after start, reverted; deploy failed after ${seconds.toFixed(1)} s`);
  assert.ok(failure instanceof StepFailed, String(failure));
  assert.equal(failure.step, "service-activate");
  assert.match(failure.result.stderr, /ai4artsed-production\.service exited with status 3 \d+s into the 20s watch window \(at \d\d:\d\d:\d\dZ\)/);
  assert.match(failure.result.stderr, new RegExp(`deploy of ${bad} reverted \\(.*\\); rolled back: ${good} is serving and healthy again`));
  assert.match(failure.result.stderr, /listening on http/, "the app's last log lines are shown");
  const into = Number(failure.result.stderr.match(/exited with status 3 (\d+)s into the 20s watch window/)![1]);
  assert.ok(into <= 10, `reverted as soon as it died (4 s after its start), not at the end of the window: ${into}s`);
  await assertStillServing(good);
  const log = await shOk(server, `tail -n 2 ${PROD}/revisions.log`);
  assert.match(log, new RegExp(`${bad}\treverted: `));
  assert.match(log, new RegExp(`${good}\trolled back after reverted ${bad}`));
  // 5b starts by reverting this commit.
});

test("5b. a commit that breaks the frontend build fails before anything switches", async () => {
  const good = prod.facts.commit;
  mutate(repo, "main", "fix");
  mutate(repo, "main", "break-build");
  await publishRepo(server, repo);
  const failure = await deploy(server, "production", RESTART).then(
    () => assert.fail("the deploy of a commit with a type error succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(failure.step, "frontend-build");
  assert.match(failure.result.stderr, /frontend build failed .*nothing was switched/);
  assert.match(failure.result.stderr, /error TS/);
  await assertStillServing(good);
});

test("5c. a Python syntax error stops the deploy at byte-compilation", async () => {
  const good = prod.facts.commit;
  mutate(repo, "main", "fix");
  mutate(repo, "main", "break-syntax");
  await publishRepo(server, repo);
  const failure = await deploy(server, "production", RESTART).then(
    () => assert.fail("the deploy of a commit with a syntax error succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(failure.step, "release-export");
  assert.match(failure.result.stderr, /byte-compiling devserver of [0-9a-f]{40} failed, nothing was switched/);
  await assertStillServing(good);
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", RESTART);
  assert.equal((await info(17801)).status, "success");
});

test("5d. a commit that imports at start an installed distribution that fails to import stops before the switch", async () => {
  const good = prod.facts.commit;
  mutate(repo, "main", "break-import");
  await publishRepo(server, repo);
  const failure = await deploy(server, "production", RESTART).then(
    () => assert.fail("the deploy of a commit whose start import fails succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(failure.step, "release-export");
  assert.match(failure.result.stderr, /the app imports at start what venv [0-9a-f]{40} cannot import .*nothing was switched:\nrequired fixture_unimportable: ModuleNotFoundError: No module named 'fixture_partner'/s);
  await assertStillServing(good);
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", RESTART);
  assert.equal((await info(17801)).status, "success");
});

test("5e. a settings-only change that stops the app at start: the last good settings serve again, also after a restart", async () => {
  const good = prod.facts.commit;
  const env = "/etc/ai4artsed/ai4artsed-production.env";
  const failure = await deploy(server, "production", { app: { ...RESTART.app, environment: { PYTHONHOME: "/nonexistent" } } }).then(
    () => assert.fail("the deploy of a setting that stops Python succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(failure.step, "service-activate");
  assert.match(failure.result.stderr, new RegExp(`deploy of ${good} with changed settings: ai4artsed-production\\.env \\(PYTHONHOME\\) failed`));
  assert.match(failure.result.stderr, new RegExp(`rolled back: ${good} is serving and healthy again with its last good settings\\. Fix the commit or the settings`));
  assert.doesNotMatch(await shOk(server, `cat ${env}`), /PYTHONHOME/, "the EnvironmentFile on disk is the last good one");
  assert.equal(await shOk(server, `stat -c '%a %U' ${env}; ls ${env}.last-good 2>/dev/null || true`), "600 root");
  // A crash, a package upgrade or a reboot restarts the unit from its files on disk.
  await shOk(server, "systemctl restart ai4artsed-production");
  await shOk(server, "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:17801/api/schema/info && exit 0; sleep 0.2; done; exit 1");
  await assertStillServing(good);
  prod = await deploy(server, "production", RESTART);
  assert.match(prod.runs.find((r) => r.step === "service-activate")!.result.stdout, /nothing to do/);
});

test("5f. a big package added and removed again: once its releases are pruned the disk is back where it was; a build on a full disk is refused", async () => {
  const keep = { app: { ...RESTART.app, keepReleases: 2 } };
  const usage = async () => Number(await shOk(server, `du -smc ${PROD} /opt/ai4artsed-tools | tail -n 1 | cut -f1`));
  prod = await deploy(server, "production", keep);
  const before = await usage();
  mutate(repo, "main", "big-package");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", keep);
  const grown = await usage();
  mutate(repo, "main", "fix");
  mutate(repo, "main", "code");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", keep);
  // Two more releases: the one with pandas is pruned, and with its venv the cache entries only it used.
  mutate(repo, "main", "code");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", keep);
  const after = await usage();
  console.log(`# disk: ${before} MB, ${grown} MB with pandas, ${after} MB once its release is pruned`);
  assert.ok(grown > before + 40, `pandas should take room: ${before} -> ${grown} MB`);
  assert.ok(after <= before * 1.03, `the disk is not back within 3%: ${before} -> ${after} MB`);
  assert.match(prod.runs.find((r) => r.step === "service-activate")!.result.stdout, /pruned \d+ MB of uv's cache that no venv uses/);

  const good = prod.facts.commit;
  mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const refused = await deploy(server, "production", { ...keep, host: { minFreeDiskMb: 100_000_000 } }).then(
    () => assert.fail("a build on a full disk went ahead"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(refused.step, "release-export");
  assert.match(refused.result.stderr, /only \d+ MB are free on \S+ \(it holds \/opt\/ai4artsed-production\/releases\); building release [0-9a-f]{40} needs at least 100000000 MB \(host\.minFreeDiskMb\)\. Nothing was switched\. What takes the room: .*venvs \d+ MB/);
  await assertStillServing(good);
  prod = await deploy(server, "production", keep);
});

test("5g. builds run as the build user: a build script and a package's build that write outside their build fail the deploy; nothing is written, nothing switched", async () => {
  const good = prod.facts.commit;
  const escaped = "ls /etc/ai4artsed/escaped-by-build /opt/ai4artsed-*/shared/escaped-by-build /opt/ai4artsed-*/releases/escaped-by-build /root/escaped-by-build /usr/local/bin/escaped-by-build 2>/dev/null || true";
  mutate(repo, "main", "escape-build");
  await publishRepo(server, repo);
  const npm = await failedDeploy(server, "production", RESTART, "a frontend whose build script writes outside its build");
  assert.equal(npm.step, "frontend-build");
  assert.match(npm.result.stderr, /frontend build failed .*nothing was switched/);
  assert.match(npm.result.stderr, /touch: cannot touch '\/etc\/ai4artsed\/escaped-by-build': (Read-only file system|No such file or directory|Permission denied)/);
  assert.doesNotMatch(npm.result.stderr, /escape-build: wrote/);
  mutate(repo, "main", "fix");
  mutate(repo, "main", "escape-install");
  await publishRepo(server, repo);
  const uv = await failedDeploy(server, "production", RESTART, "a package whose build writes outside its build");
  assert.equal(uv.step, "python-build");
  assert.match(uv.result.stderr, /fixture-escape: the build could not write outside its build: \/etc\/ai4artsed\/escaped-by-build/);
  assert.match(uv.result.stderr, /installing requirements [0-9a-f]{40} failed; the serving release keeps its own venv/);
  assert.equal(await shOk(server, escaped), "", "nothing was written outside the builds");
  await assertStillServing(good);
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", RESTART);
  // The builds' leftovers are the build user's; what a release runs and serves is root's, read-only to others.
  assert.equal(await shOk(server, `stat -c %U ${PROD}/frontends/.deps/*/node_modules`), "ai4artsed-build");
  const served = await shOk(server, `readlink -f ${PROD}/current/venv ${PROD}/current/public/ai4artsed-frontend/dist`);
  const [venv, dist] = served.split("\n");
  assert.equal(await shOk(server, `find ${venv} ${dist} \\( ! -user root -o -perm /022 \\) ! -type l | head -n 3`), "", "root's, writable by nobody else");
  assert.equal(await shOk(server, `stat -c %U ${venv}/lib/python3*/site-packages/fixture_sourceonly/__init__.py`), "root", "the source-only package, built by the build user, installed as root's");
});

test("6. production and development side by side; neither deploy disturbs the other", async () => {
  const prodBefore = await unitState("ai4artsed-production.service");
  dev = await deploy(server, "development");
  assert.equal(dev.facts.commit, headOf(repo, "develop"));
  assert.equal((await info(17802)).version, "1-dev");
  assert.equal((await info(17802)).secure_cookie, false);
  assert.equal(await shOk(server, `readlink ${DEV}/current`), `${DEV}/releases/${dev.facts.commit}`);
  mutate(repo, "develop", "code");
  await publishRepo(server, repo);
  dev = await deploy(server, "development");
  assert.equal((await info(17802)).version, "1-dev.1");
  const prodAfter = await unitState("ai4artsed-production.service");
  assert.equal(prodAfter.MainPID, prodBefore.MainPID, "production was not restarted by development's deploys");
  await deploy(server, "production", RESTART);
  assert.equal((await unitState("ai4artsed-production.service")).MainPID, prodBefore.MainPID, "production converged untouched");
  assert.equal(await shOk(server, "ls /etc/systemd/journald.conf.d/"), "60-ai4artsed.conf", "one journald owner");
});

test("6b. a second stack on the install dir or the port another stack owns is refused before anything runs", async () => {
  for (const [app, setting, value] of [
    [{ installDir: PROD }, "app.installDir", PROD],
    [{ port: 17801 }, "app.port", "17801"],
  ] as const) {
    const refused = await deploy(server, "development", { app }).then(
      () => assert.fail(`a development stack with ${setting} ${value} of production deployed`),
      (err: unknown) => err as Error,
    );
    assert.match(refused.message, /nothing was changed on the server:\n/);
    // A deployed development stack also hears that its own install dir would change: both are listed.
    assert.match(refused.message, new RegExp(`^  - ai4artsed:${setting.replace(".", "\\.")}: "${value}" belongs to stack 'production' on \\S+ \\(/etc/ai4artsed/production\\.stack\\)`, "m"));
  }
  assert.equal((await info(17801)).status, "success", "production is untouched");
  assert.equal((await info(17802)).status, "success", "development is untouched");
});

test("7. firewall: SSH open, app ports closed from outside, open on loopback", async () => {
  const status = await shOk(server, "ufw status verbose");
  assert.match(status, /Status: active/);
  assert.match(status, /Default: deny \(incoming\)/);
  assert.match(status, /22\/tcp\s+ALLOW IN\s+Anywhere\s+# ai4artsed-ssh/);
  assert.match(status, /17801\/tcp\s+DENY IN\s+Anywhere\s+# ai4artsed-production/);
  assert.match(status, /17802\/tcp\s+DENY IN\s+Anywhere\s+# ai4artsed-development/);
  assert.equal(await reachableFromOutside(22), true, "SSH still works");
  assert.equal(await reachableFromOutside(17801), false, "17801 is not reachable through the veth");
  assert.equal(await reachableFromOutside(17802), false, "17802 is not reachable through the veth");
  assert.equal((await info(17801)).status, "success");
  assert.equal((await info(17802)).status, "success");
});

test("8. journald reads the seed's limits from the drop-in", async () => {
  const merged = await shOk(server, "systemd-analyze cat-config systemd/journald.conf");
  assert.match(merged, /# \/etc\/systemd\/journald\.conf\.d\/60-ai4artsed\.conf/);
  for (const line of ["SystemMaxUse=1G", "SystemKeepFree=2G", "MaxRetentionSec=1month"]) assert.ok(merged.split("\n").includes(line), line);
});

test("9. hardening: systemd-analyze security exposure below 3.0 with the app working", async () => {
  const report = await shOk(server, "systemd-analyze security ai4artsed-production.service --no-pager");
  const exposure = Number(report.match(/Overall exposure level for ai4artsed-production\.service: ([0-9.]+)/)![1]);
  console.log(`# systemd-analyze security exposure: ${exposure}`);
  assert.ok(exposure < 3.0, `exposure ${exposure}\n${report}`);
  assert.equal((await info(17801)).status, "success");
});

test("10. removing development leaves production running and exports in place", async () => {
  await shOk(server, `curl -sf -X POST --data dev-work 'http://127.0.0.1:17802/api/export?name=dev.txt'`);
  const prodBefore = await unitState("ai4artsed-production.service");
  await destroy(server, dev);
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-development.service || true"), "inactive");
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-development.service && test ! -e /etc/ai4artsed/ai4artsed-development.env");
  assert.doesNotMatch(await shOk(server, "ufw status"), /17802|ai4artsed-development/);
  assert.match(await shOk(server, "ufw status"), /17801\/tcp\s+DENY\s/);
  assert.equal(await shOk(server, `ls ${DEV}`), "backups\nrevisions.log\nshared");
  assert.equal(await shOk(server, `cat ${DEV}/shared/exports/dev.txt`), "dev-work");
  const prodAfter = await unitState("ai4artsed-production.service");
  assert.equal(prodAfter.MainPID, prodBefore.MainPID);
  assert.equal((await info(17801)).status, "success");
  assert.equal(await reachableFromOutside(22), true);
});
