/**
 * Issue 8 on a real Debian server: adopting a hand-made checkout (and refusing an unexpected one),
 * the pre-deploy test command, the health monitor with its webhook, and restoring a backup
 * through scripts/backup.sh. Tests run in order and share one server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_SYSTEM_PACKAGES } from "../../config/defaults";
import { TOOL_DIRS } from "./appNeeds";
import { failures, startLoad } from "../../tools/load/load";
import {
  alerts,
  backupScript,
  deploy,
  Deployment,
  destroy,
  fakePulumi,
  hooks,
  makeFixtureRepo,
  publishRepo,
  ROOT,
  SERVER_REPO,
  sh,
  shOk,
  startHookReceiver,
  startTestServer,
  StepFailed,
  stopHookReceiver,
  stopTestServer,
  TestServer,
  waitFor,
} from "./harness";

const NAME = `ai4o${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const DEV = "/opt/ai4artsed-development";
/** The data a hand-made install keeps inside its checkout and that must survive byte for byte. */
const DATA = "exports devserver/settings_password.key devserver/api_keys.json devserver/user_settings.json devserver/setup_aws_env.sh devserver/hardware_matrix.json";
const LEGACY_SETTINGS = { theme: "legacy", workshop: "7a", n: 7 };

let server: TestServer;
let repo: string;
let dev: Deployment;

/** Commit files on a branch of the local fixture repo and return the new head. */
function commitFiles(branch: string, files: Record<string, string | null>, message: string): string {
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args]).toString().trim();
  git("checkout", "-q", branch);
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(repo, file);
    if (text === null) fs.rmSync(full);
    else {
      fs.mkdirSync(path.dirname(full), { recursive: true });
      fs.writeFileSync(full, text);
    }
  }
  git("add", "-A");
  git("-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", "commit", "-q", "-m", message);
  const head = git("rev-parse", "HEAD");
  git("checkout", "-q", "main");
  return head;
}

const SMOKE_TEST = `"""Pre-deploy checks, run by app.testCommand in the new release."""
import os
import sys
import unittest


class ReleaseSmokeTest(unittest.TestCase):
    def test_unprivileged_in_the_release_venv(self):
        self.assertNotEqual(os.getuid(), 0)
        self.assertIn("/venvs/", os.path.realpath(sys.prefix))

    def test_home_writable_release_read_only(self):
        with open(os.path.join(os.environ["HOME"], "probe"), "w") as f:
            f.write("ok")
        with self.assertRaises(OSError):
            open("written-by-test", "w")

    def test_app_imports(self):
        sys.path.insert(0, "devserver")
        from my_app import create_app
        self.assertIsNotNone(create_app())
`;

/** The fixture's GPU service, as docs/design.md configures the real one. */
const GPU_SERVICE = { app: { services: { "gpu-service": { directory: "gpu_service", port: 17803, portVariable: "GPU_SERVICE_PORT" } } } };
const LAYOUT = new Set(["repo.git", "releases", "venvs", "frontends", "shared", "backups", "current", "revisions.log", "activation", "services", ".deployed", ".layout-id"]);

/** A fingerprint without the export the old app wrote during the deploy. */
function withoutLate(fingerprintText: string): string {
  return fingerprintText
    .split("\n")
    .filter((l) => !l.startsWith("exports/late.txt "))
    .join("\n");
}

/** "path mode sha256" of every data file below root, sorted. */
function fingerprint(root: string): Promise<string> {
  return shOk(
    server,
    `cd ${root} && find ${DATA} -type f -print0 | sort -z | xargs -0 sh -c 'for f; do printf "%s %s %s\\n" "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -c1-64)"; done' _`,
  );
}

/** Everything about a directory tree: names, modes, owners, sizes, times and contents. */
function treeState(root: string): Promise<string> {
  return shOk(server, `cd ${root} && { find . -printf '%p %m %U %s %T@\\n'; find . -type f -exec sha256sum {} +; } | sort`);
}

async function healthy(port: number): Promise<Record<string, any>> {
  for (let i = 0; i < 60; i++) {
    const r = await sh(server, `curl -sf http://127.0.0.1:${port}/api/schema/info`);
    if (r.code === 0) return JSON.parse(r.stdout);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`nothing healthy on ${port}`);
}

/**
 * A checkout made by hand as the lab did it: the app's libraries installed by hand, the AI tools'
 * dirs belonging to the lab user, clone, venv (pip's temporary files on disk), data inside, a
 * unit started by hand.
 */
async function makeLegacyInstall(dir: string, branch: string, unit: string, port: number): Promise<void> {
  await shOk(
    server,
    `set -e
id -u lab >/dev/null 2>&1 || useradd --create-home lab
dpkg-query -W libpango-1.0-0 >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${DEFAULT_SYSTEM_PACKAGES.join(" ")} >/dev/null; }
install -d -o lab -g lab ${TOOL_DIRS.join(" ")}
git clone --quiet --branch ${branch} ${SERVER_REPO} ${dir}
cd ${dir}
python3 -m venv venv && TMPDIR=/var/tmp venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
mkdir -p exports/class-7a
head -c 3000000 /dev/urandom >exports/class-7a/recording.bin
printf 'pupil essay\\n' >exports/essay.txt && chmod 640 exports/essay.txt
printf 'private\\n' >exports/class-7a/notes.txt && chmod 600 exports/class-7a/notes.txt
printf 'legacy-settings-password\\n' >devserver/settings_password.key && chmod 600 devserver/settings_password.key
printf '{"OPENROUTER_API_KEY": "sk-or-legacy"}\\n' >devserver/api_keys.json && chmod 640 devserver/api_keys.json
printf '%s\\n' '${JSON.stringify(LEGACY_SETTINGS)}' >devserver/user_settings.json
printf 'export AWS_REGION=eu-central-1\\n' >devserver/setup_aws_env.sh && chmod 700 devserver/setup_aws_env.sh
printf '{"gpu": "written at run time"}\\n' >devserver/hardware_matrix.json
chown -R lab:lab ${dir}
cat >/etc/systemd/system/${unit} <<EOF
[Unit]
Description=started by hand
[Service]
User=lab
WorkingDirectory=${dir}/devserver
Environment=PORT=${port}
ExecStart=${dir}/venv/bin/python server.py
Restart=always
[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now --quiet ${unit}`,
  );
  await healthy(port);
}

before(async () => {
  server = startTestServer(NAME);
  repo = makeFixtureRepo();
  for (const branch of ["main", "develop"]) {
    commitFiles(branch, { "devserver/hardware_matrix.json": '{"gpu": "unknown"}\n', "devserver/tests/test_smoke.py": SMOKE_TEST }, "hardware matrix and smoke test");
  }
  await publishRepo(server, repo);
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. a hand-made production checkout is adopted: every data byte kept, served until the switch, old checkout kept; its hand-started GPU service taken over", async () => {
  await makeLegacyInstall(PROD, "main", "ai4artsed-production.service", 17801);
  // The GPU service as its operators start it: in a terminal, from the checkout, with its venv.
  await shOk(
    server,
    `cd ${PROD}/gpu_service && (setsid runuser -u lab -- env GPU_SERVICE_PORT=17803 ../venv/bin/python server.py >/tmp/gpu.log 2>&1 &) && ` +
      "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:17803/api/health && exit 0; sleep 0.2; done; exit 1",
  );
  const handStarted = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17803/api/health")).pid;
  const before = await fingerprint(PROD);
  const legacyPid = await shOk(server, "systemctl show -p MainPID --value ai4artsed-production.service");

  // Program time (preview) fetches beside the checkout, never into it.
  await deploy(server, "production", GPU_SERVICE, []);
  await shOk(server, `test ! -e ${PROD}/repo.git && test -d ${PROD}.mirror.git`);

  // Everything up to the switch: builds happen, the hand-made app keeps serving and writing.
  const early = await deploy(server, "production", GPU_SERVICE, ["host-adopt", "host-packages", "host-layout", "python-build", "frontend-build", "release-export", "service-environment", "service-unit"]);
  assert.match(early.runs[0].result.stdout, /adopting the checkout of [0-9a-f]+ .*ai4artsed-production\.service/);
  assert.equal(await shOk(server, "systemctl show -p MainPID --value ai4artsed-production.service"), legacyPid, "the old process still serves");
  assert.equal((await healthy(17801)).release, PROD, "from the old checkout");
  await shOk(server, `curl -sf -X POST --data written-during-the-build 'http://127.0.0.1:17801/api/export?name=late.txt'`);
  await shOk(server, `test -f ${PROD}/exports/late.txt && test ! -e ${PROD}/shared/exports/late.txt`);

  const prod = await deploy(server, "production", GPU_SERVICE);
  assert.match(
    prod.runs.find((r) => r.step === "gpu-service-activate")!.result.stdout,
    new RegExp(`taking over the hand-started ai4artsed-gpu-service \\(pid ${handStarted}: .*server\\.py .*in ${PROD}\\.pre-adoption-[^/]+/gpu_service\\): stopping it`),
  );
  const gpu = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17803/api/health"));
  assert.notEqual(gpu.pid, handStarted);
  assert.equal(gpu.release, `${PROD}/releases/${prod.facts.commit}/gpu_service`);
  const info = await healthy(17801);
  assert.equal(info.release, `${PROD}/releases/${prod.facts.commit}`, "the new release serves");
  assert.equal(info.insecure_secret_key, false);
  const shared = await fingerprint(`${PROD}/shared`);
  assert.equal(withoutLate(shared), before, "every data file in shared/ with the same mode and bytes");
  assert.match(shared, /^exports\/late\.txt \d+ [0-9a-f]{64}$/m);
  assert.equal(await shOk(server, "curl -sf http://127.0.0.1:17801/api/export/late.txt"), "written-during-the-build", "what the old app wrote during the build came along");
  assert.deepEqual(JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/settings")), LEGACY_SETTINGS);
  assert.equal(await shOk(server, `stat -c %U ${PROD}/shared/devserver/settings_password.key ${PROD}/shared/exports/class-7a/notes.txt | sort -u`), "ai4artsed-production");

  const kept = (await shOk(server, `ls -d ${PROD}.pre-adoption-*`)).split("\n");
  assert.equal(kept.length, 1);
  assert.equal(withoutLate(await fingerprint(kept[0])), before, "the old checkout is kept whole");
  await shOk(server, `test -d ${kept[0]}/.git && test -x ${kept[0]}/venv/bin/python && test "$(stat -c %U ${kept[0]})" = lab`);
  for (const entry of (await shOk(server, `ls -A ${PROD}`)).split("\n")) {
    assert.ok(LAYOUT.has(entry) || /^(color-|serving\.sock)/.test(entry), `${PROD}/${entry} is not part of the release layout`);
  }
  // The layout's id stays: the steps that just ran carry it, so the next preview is clean.
  await shOk(server, `test -s ${PROD}/.layout-id && test ! -e ${kept[0]}/.layout-id`);
  await shOk(server, `test ! -e ${PROD}/.adoption && test ! -e ${PROD}.mirror.git && test ! -e ${PROD}/devserver && test ! -e ${PROD}/.git`);
  assert.match(await shOk(server, `cat ${PROD}/revisions.log`), /adopted: the hand-made checkout is kept in \/opt\/ai4artsed-production\.pre-adoption-/);
  assert.match(await shOk(server, `cat ${PROD}/backups/pre-adoption/ai4artsed-production.service`), /Description=started by hand/);

  const again = await deploy(server, "production", GPU_SERVICE);
  assert.match(again.runs.find((r) => r.step === "host-adopt")!.result.stdout, /nothing to adopt in \/opt\/ai4artsed-production \(layout\)/);
  assert.match(again.runs.find((r) => r.step === "release-adopt")!.result.stdout, /no adoption pending/);
});

test("1b. the AI tools' dirs of a hand-made server stay the lab user's; group access, as docs/settings.md says, lets the app write them", async () => {
  const layout = await deploy(server, "production", {}, ["host-layout"]);
  for (const dir of TOOL_DIRS) {
    assert.ok(layout.runs[0].result.stderr.includes(`warning: ai4artsed-production cannot write ${dir} (lab:lab 755)`), layout.runs[0].result.stderr);
    assert.equal(await shOk(server, `stat -c %U:%G ${dir}`), "lab:lab", "not chowned");
  }
  const before = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/training/dirs"));
  assert.match(before[TOOL_DIRS[0]], /not writable: Permission denied/, "the app started all the same");
  await shOk(server, `usermod -aG lab ai4artsed-production && chmod g+rwxs ${TOOL_DIRS.join(" ")} && systemctl try-restart 'ai4artsed-production@*.service'`);
  await healthy(17801);
  const after = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/training/dirs"));
  for (const dir of TOOL_DIRS) assert.equal(after[dir], "writable", dir);
  assert.equal((await deploy(server, "production", {}, ["host-layout"])).runs[0].result.stderr, "", "no warning left");
});

test("2. an unexpected install dir stops the deploy with what is wrong, and changes nothing", async () => {
  // A hand-made development checkout with an edited tracked file, served by a unit of another name.
  await makeLegacyInstall(DEV, "develop", "ai4artsed-dev-manual.service", 17802);
  await shOk(server, `echo '# edited on the server' >>${DEV}/devserver/server.py`);
  const before = await treeState(DEV);
  const pid = await shOk(server, "systemctl show -p MainPID --value ai4artsed-dev-manual.service");
  const failure = await deploy(server, "development").then(
    () => assert.fail("adopting a checkout with local edits succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.ok(failure instanceof StepFailed, String(failure));
  assert.equal(failure.step, "host-adopt");
  assert.match(failure.result.stderr, /\/opt\/ai4artsed-development is a hand-made git checkout this program would take over, but:\nuncommitted change to tracked file devserver\/server\.py\nNothing was changed/);
  assert.doesNotMatch(failure.result.stderr, /hardware_matrix/, "a runtime-written shared file may differ from its commit");
  assert.equal(await treeState(DEV), before, "not a byte, mode or time changed");
  assert.equal(await shOk(server, "systemctl show -p MainPID --value ai4artsed-dev-manual.service"), pid);
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-development.service && ! id ai4artsed-development 2>/dev/null");

  // A directory that is neither empty, nor this program's, nor a git checkout.
  await shOk(server, "mkdir -p /opt/ai4-foreign && echo notes >/opt/ai4-foreign/notes.txt");
  const foreign = await deploy(server, "development", { app: { installDir: "/opt/ai4-foreign" } }, ["host-adopt"]).then(
    () => assert.fail("a foreign install dir was accepted"),
    (err: unknown) => err as StepFailed,
  );
  assert.match(foreign.result.stderr, /\/opt\/ai4-foreign holds something this program did not make and cannot adopt .*notes\.txt.*Nothing was changed/);
  assert.equal(await shOk(server, "ls -A /opt/ai4-foreign"), "notes.txt");

  // Put right by hand, the same checkout is adopted; the unit of another name is stopped and disabled.
  await shOk(server, `runuser -u lab -- git -C ${DEV} checkout -- devserver/server.py`);
  const before2 = await fingerprint(DEV);
  dev = await deploy(server, "development");
  assert.equal((await healthy(17802)).release, `${DEV}/releases/${dev.facts.commit}`);
  assert.equal(await fingerprint(`${DEV}/shared`), before2);
  assert.equal(await shOk(server, "systemctl is-enabled ai4artsed-dev-manual.service || true"), "disabled");
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-dev-manual.service || true"), "inactive");
});

test("3. app.testCommand runs in the new release before the switch; its failure stops the deploy and switches nothing", async () => {
  const testCommand = "python -m unittest discover -s devserver/tests -v";
  // The check runs when a release is made: a new commit.
  const commit = commitFiles("develop", { "devserver/VERSION": "1-dev.tested\n" }, "a tested change");
  await publishRepo(server, repo);
  dev = await deploy(server, "development", { app: { testCommand } });
  assert.equal(dev.facts.commit, commit);
  const exported = dev.runs.find((r) => r.step === "release-export")!.result.stdout;
  assert.match(exported, /app\.testCommand passed/);
  assert.equal((await healthy(17802)).version, "1-dev.tested");

  const bad = commitFiles(
    "develop",
    { "devserver/tests/test_broken.py": "import unittest\n\n\nclass Broken(unittest.TestCase):\n    def test_fails(self):\n        self.fail('fixture: failing on purpose 4711')\n" },
    "a failing test",
  );
  await publishRepo(server, repo);
  for (const attempt of [1, 2]) {
    const failure = await deploy(server, "development", { app: { testCommand } }).then(
      () => assert.fail("a commit with a failing test went live"),
      (err: unknown) => err as StepFailed,
    );
    assert.equal(failure.step, "release-export", `attempt ${attempt}`);
    assert.match(failure.result.stderr, new RegExp(`app\\.testCommand failed for ${bad} .*nothing was switched\\.`));
    assert.match(failure.result.stderr, /AssertionError: fixture: failing on purpose 4711/);
    assert.match(failure.result.stderr, /FAILED \(failures=1\)/);
    await shOk(server, `test ! -e ${DEV}/releases/${bad} && ! ls -d ${DEV}/releases/.export-* 2>/dev/null`);
    assert.equal(await shOk(server, `readlink ${DEV}/current`), `${DEV}/releases/${commit}`);
    assert.equal((await healthy(17802)).version, "1-dev.tested");
  }
  commitFiles("develop", { "devserver/tests/test_broken.py": null }, "fix the test");
  await publishRepo(server, repo);
  dev = await deploy(server, "development", { app: { testCommand } });
  assert.equal((await healthy(17802)).release, `${DEV}/releases/${dev.facts.commit}`);
});

test("4. the health monitor alerts once per outage (journal err + one webhook POST), reminds while it lasts, holds what the webhook missed, and reports the recovery once", async () => {
  const webhookUrl = await startHookReceiver(server, "secret-token-42");
  const monitor = { intervalSeconds: 1, alertAfterSeconds: 3, webhookUrl };
  dev = await deploy(server, "development", { monitor });
  const unit = "ai4artsed-development.service";
  const probe = "ai4artsed-development-health.service";
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-development-health.timer"), "active");
  assert.equal(await shOk(server, "stat -c '%a %U' /etc/ai4artsed/ai4artsed-development-health.webhook"), "600 root");
  assert.equal(await shOk(server, "cat /etc/ai4artsed/ai4artsed-development-health.webhook"), webhookUrl);
  assert.equal((await sh(server, "grep -rl secret-token-42 /etc/systemd /usr/local/lib/ai4artsed")).stdout, "", "the URL is in no unit or script");
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.deepEqual(await alerts(server, unit), [], "healthy: no alert");

  const started = Date.now();
  await shOk(server, `systemctl stop ${unit}`);
  for (let i = 0; i < 4; i++) await shOk(server, `systemctl start ${probe}`);
  await waitFor("the alert", () => alerts(server, unit), (a) => a.length > 0);
  console.log(`alert ${Math.round((Date.now() - started) / 1000)} s after the stop (threshold 3 s)`);
  await new Promise((resolve) => setTimeout(resolve, 4000)); // the timer keeps probing every second
  await shOk(server, `systemctl start ${probe}`);
  const down = await alerts(server, unit);
  assert.equal(down.length, 1, down.join("\n"));
  assert.match(down[0], /^3 ai4artsed-development\.service is down: http:\/\/127\.0\.0\.1:17802\/api\/schema\/info has not answered 2xx for \d+s .*the unit is inactive/);
  assert.equal((await shOk(server, "journalctl -p err -t ai4artsed-health-alert -o cat --no-pager")).split("\n").length, 1, "one err entry");
  const posted = await waitFor("the webhook POST", () => hooks(server), (h) => h.length > 0);
  assert.equal(posted.length, 1);
  assert.equal(posted[0].state, "down");
  assert.equal(posted[0].service, unit);
  assert.match(posted[0].text, /is down/);

  await shOk(server, `systemctl start ${unit}`);
  await healthy(17802);
  await shOk(server, `systemctl start ${probe}`);
  await waitFor("the recovery", () => alerts(server, unit), (a) => a.length > 1);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const all = await alerts(server, unit);
  assert.equal(all.length, 2, all.join("\n"));
  assert.match(all[1], /^5 ai4artsed-development\.service recovered: .* answers again after \d+s down$/);
  const all_hooks = await hooks(server);
  assert.deepEqual(all_hooks.map((h) => h.state), ["down", "recovered"]);
  await shOk(server, "test ! -e /var/lib/ai4artsed/ai4artsed-development-health.state");

  // An outage while the webhook is down: the alert and a reminder wait in the outbox, in order,
  // until the webhook takes them; the recovery is told once.
  dev = await deploy(server, "development", { monitor: { ...monitor, remindEveryHours: 0.002 } }); // 7.2 s
  await shOk(server, "systemctl stop 'hook-receiver*'");
  await shOk(server, `systemctl stop ${unit}`);
  await waitFor("the reminder", () => alerts(server, unit), (a) => a.some((line) => line.includes("is still down")), 60);
  await waitFor("both held", () => shOk(server, "grep -c . /var/lib/ai4artsed/ai4artsed-development-health.outbox || true"), (n) => n === "2");
  assert.match(await shOk(server, "journalctl -t ai4artsed-development-health -o cat --no-pager"), /the webhook did not take 1 message\(s\)/);
  await startHookReceiver(server, "secret-token-42");
  const held = await waitFor("the held messages", () => hooks(server), (h) => h.length >= 4);
  assert.deepEqual(held.slice(2, 4).map((h) => h.state), ["down", "down"]);
  assert.match(held[2].text, /is down: .*has not answered 2xx/);
  assert.match(held[3].text, /^ai4artsed-development\.service is still down: .*\(down since \S+Z, 0h ago\)/);
  assert.ok(held[2].at <= held[3].at, "oldest first");
  await shOk(server, `systemctl start ${unit}`);
  await healthy(17802);
  const told = await waitFor("the recovery", () => hooks(server), (h) => h.at(-1)!.state === "recovered");
  await shOk(server, "test ! -e /var/lib/ai4artsed/ai4artsed-development-health.outbox");
  assert.equal(told.filter((h) => h.state === "recovered").length, 2, "one recovery per outage");

  // Removal (destroy, or monitor.enabled false) takes this stack's pieces only; production's monitor stays.
  const remove = dev.graph.get("development-monitor-remove")!.inputs.delete;
  assert.equal((await sh(server, remove)).code, 0);
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-development-health.timer && test ! -e /etc/ai4artsed/ai4artsed-development-health.webhook");
  await shOk(server, "test ! -e /usr/local/lib/ai4artsed/ai4artsed-development-health-probe.sh");
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-development-health.timer || true"), "inactive");
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-production-health.timer"), "active");
  await stopHookReceiver(server);
});

test("5. scripts/backup.sh lists the backups and restores the latest: damaged settings come back, the app serves them through the standby color with no failed request", async () => {
  const color = (await shOk(server, `readlink ${PROD}/serving.sock`)).match(/-(blue|green)\.sock$/)![1];
  const serving = `ai4artsed-production@${color}.service`; // the stack's output serviceName
  const fake = fakePulumi(
    "production",
    { server: { address: server.host, port: String(server.port), hostKey: server.hostKey!, privateKey: server.privateKey }, app: { repoUrl: SERVER_REPO } },
    { serviceName: serving, url: "http://127.0.0.1:17801/api/schema/info" },
  );
  const run = (...args: string[]) => backupScript(fake, ...args);

  const listed = run("list", "production");
  assert.match(listed, /^\d{8}T\d{6}Z-[0-9a-f]{12}\.tar\.gz\t\S+\t\d+ files$/m);
  await shOk(server, `printf '{broken' >${PROD}/shared/devserver/user_settings.json`);
  assert.notEqual((await sh(server, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/api/settings")).stdout, "200");

  // Blue-green: the restored files go in use on the standby color, and no request fails.
  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 2 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const restored = run("restore", "production", "latest");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const summary = await load.stop();
  console.log(`# restore on blue-green under load: ${JSON.stringify({ ok: summary.quick_ok + summary.slow_ok, failed: failures(summary) })}`);
  assert.equal(failures(summary), 0, JSON.stringify(summary.failed));
  assert.match(restored, /restored \d+ files from \d{8}T\d{6}Z-[0-9a-f]{12}\.tar\.gz/);
  const other = color === "blue" ? "green" : "blue";
  assert.match(restored, new RegExp(`ai4artsed-production@${other}\\.service serves the restored files and is healthy; ai4artsed-production@${color}\\.service drains`));
  assert.equal(await shOk(server, `readlink ${PROD}/serving.sock`), `/run/ai4artsed/ai4artsed-production-${other}.sock`);
  assert.deepEqual(JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/settings")), LEGACY_SETTINGS);
  assert.equal(await shOk(server, `stat -c '%a %U' ${PROD}/shared/devserver/settings_password.key`), "600 ai4artsed-production");
  // The damaged state was saved first, so the restore itself can be undone.
  const after = run("list", "production");
  const preRestore = after.split("\n").find((l) => l.includes("-pre-restore.tar.gz"))!;
  assert.ok(preRestore, after);
  assert.equal(await shOk(server, `tar -xOPzf ${PROD}/backups/${preRestore.split("\t")[0]} ${PROD}/shared/devserver/user_settings.json 2>/dev/null`), "{broken");
  assert.throws(() => run("restore", "production", "no-such-backup.tar.gz"), /no backup 'no-such-backup\.tar\.gz'/);
  fs.rmSync(fake, { recursive: true });
});

test("6. what destroy leaves (shared/, backups/) is deployed again in place, data intact", async () => {
  const before = await fingerprint(`${DEV}/shared`);
  await destroy(server, dev);
  assert.equal(await shOk(server, `ls ${DEV}`), "backups\nrevisions.log\nshared");
  dev = await deploy(server, "development");
  await shOk(server, `test -d ${DEV}/repo.git && test ! -e ${DEV}.mirror.git`);
  assert.match(dev.runs[0].result.stdout, /nothing to adopt in \/opt\/ai4artsed-development \(layout\)/);
  assert.equal(await fingerprint(`${DEV}/shared`), before);
  assert.equal((await healthy(17802)).release, `${DEV}/releases/${dev.facts.commit}`);
});
