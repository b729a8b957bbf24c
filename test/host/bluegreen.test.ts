/**
 * Blue-green deploys on a real Debian server: two colors of the app, each with PORT=17801 in
 * its own network namespace, behind a per-stack haproxy on 127.0.0.1:17801. Under a steady load
 * run inside the server, a code change loses no request, a commit that breaks startup leaves
 * the old color serving, and the app keeps behaving as production (secure cookie).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseStackConfig } from "../../config/load";
import { inspectServer } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import { buildStack } from "../unit/mocks";
import {
  deploy,
  Deployment,
  destroy,
  headOf,
  mutate,
  publishRepo,
  SERVER_REPO,
  shOk,
  startTestBed,
  StepFailed,
  stopTestServer,
  TestServer,
} from "./harness";
import { failedSentAfter, failures, LoadSummary, startLoad } from "../../tools/load/load";
import { stepResultOf } from "../../components/steps/remoteScript";
import { assertFirstStartNeedsMet } from "./appNeeds";

const NAME = `ai4b${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const DEV = "/opt/ai4artsed-development";
const UNIT = "ai4artsed-production";
let server: TestServer;
let repo: string;
let prod: Deployment;

async function info(port = 17801): Promise<Record<string, any>> {
  return JSON.parse(await shOk(server, `curl -sf http://127.0.0.1:${port}/api/schema/info`));
}

async function active(unit: string): Promise<string> {
  return shOk(server, `systemctl is-active ${unit} || true`);
}

async function mainPid(unit: string): Promise<string> {
  return shOk(server, `systemctl show -P MainPID ${unit}`);
}

function activateOutput(deployment: Deployment): string {
  return deployment.runs.find((r) => r.step === "service-activate")!.result.stdout;
}

function describe(load: LoadSummary): string {
  return JSON.stringify(load);
}

/** When (epoch seconds, the server's clock) systemd saw the unit's main process exit with `status`, first since `since`. */
async function exitedAt(unit: string, status: number, since: number): Promise<number> {
  const line = await shOk(
    server,
    `journalctl -u ${unit} -o short-unix --no-pager --since @${Math.floor(since)} | grep -m1 'Main process exited, code=exited, status=${status}/'`,
  );
  return Number(line.split(/\s/)[0]);
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. production deploys blue-green: blue serves through the proxy, as production, from current", async () => {
  prod = await deploy(server, "production");
  assert.equal(stepResultOf(activateOutput(prod))?.servingUnit, `${UNIT}@blue.service`);
  assert.equal(await active(`${UNIT}-proxy.service`), "active");
  assert.equal(await active(`${UNIT}@blue.service`), "active");
  assert.equal(await active(`${UNIT}@green.service`), "inactive");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${prod.facts.commit}`);
  assert.equal(await shOk(server, `readlink ${PROD}/serving.sock`), `/run/ai4artsed/${UNIT}-blue.sock`);
  const state = await info();
  assert.equal(state.port, "17801", "the color runs with PORT=17801");
  assert.equal(state.secure_cookie, true, "production cookies");
  assert.equal(state.insecure_secret_key, false);
  assert.equal(state.release, `${PROD}/releases/${prod.facts.commit}`);
  const cookie = await shOk(server, "curl -si http://127.0.0.1:17801/api/session | grep -i '^set-cookie'");
  assert.match(cookie, /; Secure/i);
  await assertFirstStartNeedsMet(server, PROD, "ai4artsed-production", 17801);
  // The proxy listens on loopback only; the app itself is in its own namespace, not on the host.
  const listening = await shOk(server, "ss -Htln 'sport = :17801'");
  assert.deepEqual(listening.split("\n").map((l) => l.trim().split(/\s+/)[3]), ["127.0.0.1:17801"]);
  assert.equal(await shOk(server, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/`), "200", "dist is served");
  await shOk(server, `curl -sf -X POST --data pupil-work 'http://127.0.0.1:17801/api/export?name=keep.txt'`);
});

/** HTTP status of a request made from inside a unit's network namespace. */
async function fromInside(unit: string, url: string): Promise<string> {
  return shOk(server, `nsenter -t $(systemctl show -P MainPID ${unit}) -n curl -s -o /dev/null -w '%{http_code}' --max-time 15 ${url} || true`);
}

/** Wait (up to 30 s) until blue answers its health path through its own socket again. */
async function waitBlueServing(): Promise<void> {
  await shOk(server, `for i in $(seq 1 60); do curl -sf -o /dev/null --unix-socket /run/ai4artsed/${UNIT}-blue.sock http://localhost/api/schema/info && break; sleep 0.5; done`);
}

test("1b. a color reaches the host's loopback services and the internet, and nothing reaches it from outside", async () => {
  await shOk(server, "setsid nohup python3 -m http.server --bind 127.0.0.1 11434 --directory /tmp >/dev/null 2>&1 < /dev/null & sleep 0.5");
  assert.equal(await active(`${UNIT}-egress@blue.service`), "active");
  assert.equal(await fromInside(`${UNIT}@blue.service`, "http://127.0.0.1:11434/"), "200", "Ollama's port on the host");
  assert.equal(await fromInside(`${UNIT}@blue.service`, "https://pypi.org/simple/six/"), "200", "an API on the internet");
  assert.equal(await fromInside(`${UNIT}@blue.service`, "http://127.0.0.1:17803/"), "000", "a port nobody listens on stays closed");
  // A crashed color restarts in a new namespace; its egress follows.
  await shOk(server, `kill -9 $(systemctl show -P MainPID ${UNIT}@blue.service)`);
  await waitBlueServing();
  assert.equal(await active(`${UNIT}-egress@blue.service`), "active");
  assert.equal(await fromInside(`${UNIT}@blue.service`, "http://127.0.0.1:11434/"), "200", "after a restart too");
  assert.equal((await info()).status, "success");
});

test("1c. on a host with systemd-resolved's loopback stub, a color resolves names through the stub's upstream servers", async () => {
  // The layout of a resolved host (Ubuntu's default): /etc/resolv.conf -> the stub at 127.0.0.53,
  // /run/systemd/resolve/resolv.conf lists the upstream servers. Nothing answers on 127.0.0.53 here.
  await shOk(server, [
    "cp /etc/resolv.conf /root/resolv.conf.orig",
    "mkdir -p /run/systemd/resolve",
    "cp /etc/resolv.conf /run/systemd/resolve/resolv.conf",
    "echo 'nameserver 127.0.0.53' > /run/systemd/resolve/stub-resolv.conf",
    "ln -sfn /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf",
  ].join(" && "));
  try {
    await shOk(server, `systemctl restart ${UNIT}@blue.service`);
    await waitBlueServing();
    const pid = await mainPid(`${UNIT}@blue.service`);
    const probe = (namespaces: string) =>
      shOk(server, `nsenter -t ${pid} ${namespaces} curl -s -o /dev/null -w '%{http_code}' --max-time 15 https://pypi.org/simple/six/ || true`);
    assert.equal(await probe("-n"), "000", "the host's stub is out of reach from the color's network namespace");
    assert.equal(await probe("-n -m"), "200", "the color's own view of /etc/resolv.conf names a server it reaches");
  } finally {
    await shOk(server, "rm -f /etc/resolv.conf && mv /root/resolv.conf.orig /etc/resolv.conf && rm -rf /run/systemd/resolve");
    await shOk(server, `systemctl restart ${UNIT}@blue.service`);
    await waitBlueServing();
  }
});

test("2. a no-op run starts nothing", async () => {
  const pid = await mainPid(`${UNIT}@blue.service`);
  const proxyPid = await mainPid(`${UNIT}-proxy.service`);
  const again = await deploy(server, "production");
  assert.match(activateOutput(again), /nothing to do/);
  assert.equal(await mainPid(`${UNIT}@blue.service`), pid);
  assert.equal(await mainPid(`${UNIT}-proxy.service`), proxyPid);
  assert.equal(await active(`${UNIT}@green.service`), "inactive");
  for (const step of ["service-unit", "service-bridge-socket", "service-bridge-service", "service-egress-service", "service-proxy-unit", "service-proxy-config"]) {
    assert.match(again.runs.find((r) => r.step === step)!.result.stdout, /up to date/, step);
  }
});

test("3. under steady load a code change moves to green and loses no request, quick or slow", async () => {
  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 5 });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const commit = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const started = Date.now();
  prod = await deploy(server, "production");
  const seconds = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const summary = await load.stop();
  console.log(`# code-only blue-green deploy under load: ${seconds.toFixed(1)} s; load ${describe(summary)}`);
  assert.equal(prod.facts.commit, commit);
  assert.equal(failures(summary), 0, describe(summary));
  assert.ok(summary.quick_ok > 100 && summary.slow_ok >= 6, describe(summary));
  assert.deepEqual(Object.keys(summary.versions).sort(), ["1 secure_cookie=True", "2 secure_cookie=True"], "old then new, both as production");
  // The deploy returned once traffic had moved; blue drained in a transient unit meanwhile.
  assert.match(activateOutput(prod), /ai4artsed-production@blue\.service drains in the background/);
  await shOk(server, `for i in $(seq 1 120); do systemctl is-active --quiet ${UNIT}-drain-blue.service || break; sleep 0.5; done`);
  assert.match(await shOk(server, `journalctl -u ${UNIT}-drain-blue.service --no-pager -o cat`), /ai4artsed-production@blue\.service drained in \d+ ms/);
  assert.equal(await active(`${UNIT}@green.service`), "active");
  assert.equal(await active(`${UNIT}@blue.service`), "inactive");
  assert.equal(await shOk(server, `systemctl is-enabled ${UNIT}@green.service`), "enabled");
  assert.equal(await shOk(server, `systemctl is-enabled ${UNIT}@blue.service || true`), "disabled");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${commit}`);
  assert.equal((await info()).version, "2");
  assert.equal((await info()).secure_cookie, true);
  assert.equal(await shOk(server, `curl -sf http://127.0.0.1:17801/api/export/keep.txt`), "pupil-work", "shared/ survives");
});

test("4. a commit that breaks startup leaves green serving, untouched, with no failed request", async () => {
  const good = prod.facts.commit;
  const pid = await mainPid(`${UNIT}@green.service`);
  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 5 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const bad = mutate(repo, "main", "break-startup");
  await publishRepo(server, repo);
  const failure = await deploy(server, "production").then(
    () => assert.fail("the deploy of a crashing commit succeeded"),
    (err: unknown) => err as StepFailed,
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const summary = await load.stop();
  console.log(`# failed blue-green deploy under load: ${describe(summary)}`);
  assert.ok(failure instanceof StepFailed, String(failure));
  assert.equal(failure.step, "service-activate");
  assert.match(
    failure.result.stderr,
    new RegExp(`deploy of ${bad} failed \\(the service exited during startup\\); ${good} is still serving on ${UNIT}@green\\.service, untouched`),
  );
  assert.match(failure.result.stderr, /RuntimeError/, "the app's own error is shown");
  assert.equal(failures(summary), 0, describe(summary));
  assert.deepEqual(Object.keys(summary.versions), ["2 secure_cookie=True"]);
  assert.equal(await mainPid(`${UNIT}@green.service`), pid, "the serving color was not touched");
  assert.equal(await active(`${UNIT}@blue.service`), "inactive", "the failed color is stopped");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${good}`);
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
});

test("4b. a settings-only change that stops the app at start leaves the serving color serving with its own settings, also after it restarts", async () => {
  const good = (await shOk(server, `readlink ${PROD}/current`)).split("/").pop()!;
  const color = await servingColor();
  const env = "/etc/ai4artsed/ai4artsed-production.env";
  const failure = await deploy(server, "production", { app: { revision: good, environment: { PYTHONHOME: "/nonexistent" } } }).then(
    () => assert.fail("the deploy of a setting that stops Python succeeded"),
    (err: unknown) => err as StepFailed,
  );
  assert.equal(failure.step, "service-activate");
  assert.match(
    failure.result.stderr,
    new RegExp(`deploy of ${good} with changed settings: ai4artsed-production\\.env \\(PYTHONHOME\\) failed .*still serving on ${UNIT}@${color}\\.service, untouched\\. Fix the commit or the settings`),
  );
  assert.doesNotMatch(await shOk(server, `cat ${env}`), /PYTHONHOME/, "the EnvironmentFile on disk is the serving color's own");
  // A crash, a package upgrade or a reboot restarts the serving color from its files on disk.
  await shOk(server, `systemctl restart ${UNIT}@${color}.service`);
  await shOk(server, "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:17801/api/schema/info && exit 0; sleep 0.2; done; exit 1");
  assert.equal((await info()).status, "success");
  assert.equal(await servingColor(), color);
});

test("5. rollback by pinned revision: the previous release starts on the idle color in seconds, no build", async () => {
  const previous = headOf(repo, "main~3"); // before code, break-startup, fix
  const started = Date.now();
  const rolled = await deploy(server, "production", { app: { revision: previous } });
  const seconds = (Date.now() - started) / 1000;
  console.log(`# rollback by pinned revision (blue-green): ${seconds.toFixed(1)} s`);
  assert.ok(seconds < 30, `rollback took ${seconds} s`);
  for (const step of ["python-build", "frontend-build"]) {
    assert.match(rolled.runs.find((r) => r.step === step)!.result.stdout, /reusing/, step);
  }
  assert.equal((await info()).version, "1");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${previous}`);
  prod = await deploy(server, "production");
  assert.equal((await info()).version, "2");
});

/** The color the proxy sends new requests to. */
async function servingColor(): Promise<string> {
  return (await shOk(server, `readlink ${PROD}/serving.sock`)).match(/-(blue|green)\.sock$/)![1];
}

test("5b. a release that dies inside the watch window: traffic goes back to the old color, still running, at once; no new request fails", async () => {
  const good = prod.facts.commit;
  const old = await servingColor();
  const oldPid = await mainPid(`${UNIT}@${old}.service`);
  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 2 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const since = Number(await shOk(server, "date +%s"));
  const bad = mutate(repo, "main", "die-after-5");
  await publishRepo(server, repo);
  const started = Date.now();
  const failure = await deploy(server, "production", { app: { stableSeconds: 30 } }).then(
    () => assert.fail("a release that died inside the watch window was kept"),
    (err: unknown) => err as StepFailed,
  );
  const seconds = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const summary = await load.stop();
  console.log(`# blue-green: release died 5 s after start inside a 30 s window, reverted; deploy failed after ${seconds.toFixed(1)} s; load ${describe(summary)}`);
  assert.ok(failure instanceof StepFailed, String(failure));
  assert.equal(failure.step, "service-activate");
  const next = old === "blue" ? "green" : "blue";
  assert.match(failure.result.stderr, new RegExp(`${UNIT}@${next}\\.service exited with status 3 \\d+s into the 30s watch window \\(at \\d\\d:\\d\\d:\\d\\dZ\\)`));
  assert.match(failure.result.stderr, new RegExp(`deploy of ${bad} reverted \\(.*\\); ${good} serves again on ${UNIT}@${old}\\.service`));
  assert.match(failure.result.stderr, /listening on http/, "the app's last log lines are shown");
  const into = Number(failure.result.stderr.match(/exited with status 3 (\d+)s into the 30s watch window/)![1]);
  assert.ok(into <= 10, `reverted as soon as it died (5 s after its start), not at the end of the window: ${into}s`);
  // The dying process may take with it what it already held: requests sent before it died, failing at that moment.
  const died = await exitedAt(`${UNIT}@${next}.service`, 3, since);
  console.log(`# the new color died at ${died}; failed requests: ${JSON.stringify(summary.failed)}`);
  assert.deepEqual(failedSentAfter(summary, died), [], `no request sent after the new color died failed: ${describe(summary)}`);
  for (const request of summary.failed) {
    assert.ok(request.failed >= died - 0.5 && request.failed <= died + 1, `a failed request failed when the color died, not before or later: ${JSON.stringify(request)}`);
  }
  assert.ok(summary.quick_failed <= 8, `at most the quick requests the dying color held (8 workers): ${describe(summary)}`);
  assert.ok(summary.slow_failed <= 3, `at most the slow requests the dying color held: ${describe(summary)}`);
  assert.equal(await servingColor(), old);
  assert.equal(await mainPid(`${UNIT}@${old}.service`), oldPid, "the old color kept running through the window, untouched");
  assert.equal(await active(`${UNIT}@${next}.service`), "inactive", "the failed color is stopped");
  assert.equal(await shOk(server, `systemctl is-enabled ${UNIT}@${old}.service`), "enabled");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${good}`);
  const log = await shOk(server, `tail -n 2 ${PROD}/revisions.log`);
  assert.match(log, new RegExp(`${bad}\treverted: `));
  assert.match(log, new RegExp(`${good}\tserving again after reverted ${bad}`));
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
});

test("5c. after the window, a color that crash-loops makes the health monitor alert", async () => {
  const bad = mutate(repo, "main", "die-after-8");
  await publishRepo(server, repo);
  const monitor = { alertAfterSeconds: 20 };
  prod = await deploy(server, "production", { app: { stableSeconds: 2 }, monitor });
  assert.match(activateOutput(prod), /stayed healthy for the 2s watch window/);
  const color = await servingColor();
  const since = await shOk(server, "date +%s");
  // The first probe sees it healthy; the next ones see it dead or restarted.
  await shOk(server, `systemctl start ${UNIT}-health.service`);
  await new Promise((resolve) => setTimeout(resolve, 7000));
  await shOk(server, `systemctl start ${UNIT}-health.service`);
  await shOk(server, "journalctl --sync");
  const alerts = await shOk(server, `journalctl -t ai4artsed-health-alert -p err --since @${since} -o cat --no-pager`);
  console.log(`# crash loop after the window: ${alerts}`);
  assert.match(alerts, new RegExp(`^${UNIT}@${color}\\.service is down: `, "m"));
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", { monitor });
  assert.notEqual(prod.facts.commit, bad);
  assert.equal((await info()).status, "success");
  await shOk(server, `systemctl start ${UNIT}-health.service`);
});

test("6. drift review works on blue-green: clean after a deploy, a stopped color shows and is repaired", async () => {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const raw = { server: serverConfig, app: { repoUrl: SERVER_REPO } };
  const { config } = parseStackConfig("production", rawConfig(raw), SECRET_SECTIONS);
  const observeAndCheck = async (name: string) => {
    const { facts, observed } = await inspectServer("production", "production", config, denyPortsOf(config));
    const graph = await buildStack("production", raw, facts, name, observed);
    return (step: string) => graph.get(`${name}-service-${step}-state`)!.inputs;
  };
  const clean = await observeAndCheck("observed-clean");
  for (const step of ["unit", "environment", "running", "current"]) {
    assert.equal(clean(step).onServer, clean(step).expected, `${step} drifts right after a deploy`);
  }
  const serving = await servingColor();
  await shOk(server, `systemctl stop ${UNIT}-bridge@${serving}.socket ${UNIT}@${serving}.service`);
  const drifted = await observeAndCheck("observed-drifted");
  assert.equal(drifted("running").onServer, "active enabled; serving color inactive enabled");
  // The repair is a deploy like any other: the stamp changed, so the other color takes over.
  prod = await deploy(server, "production", { app: { healthTimeoutSeconds: 61 } });
  assert.equal((await info()).status, "success");
  assert.notEqual(await shOk(server, `readlink ${PROD}/serving.sock`), `/run/ai4artsed/${UNIT}-${serving}.sock`);
});

test("6b. a deploy that needs the color still draining from the last one waits for it; no request lost", async () => {
  // Slow requests longer than two deploys take on a busy machine, so the old color is still draining when the second one wants it.
  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 90 });
  let summary: LoadSummary | undefined;
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // An environment change moves the app to the other color like a new commit does.
    // No watch window: the deploy returns while the old color still holds the slow requests.
    const first = await deploy(server, "production", { app: { stableSeconds: 0, environment: { DEPLOY_ROUND: "1" } } });
    const draining = activateOutput(first).match(/(ai4artsed-production@(?:blue|green)\.service) drains in the background/);
    assert.ok(draining, activateOutput(first));
    const retired = draining[1];
    assert.equal(await active(retired), "active", "the old color is still finishing its slow requests");
    prod = await deploy(server, "production", { app: { stableSeconds: 0, environment: { DEPLOY_ROUND: "2" } } });
    summary = await load.stop();
    console.log(`# two deploys back to back under slow load: ${describe(summary)}`);
    assert.ok(activateOutput(prod).includes(`waiting for ${retired} to finish draining`), activateOutput(prod));
    assert.equal(stepResultOf(activateOutput(prod))?.servingUnit, retired, "the drained color serves again");
    assert.equal(failures(summary), 0, describe(summary));
    assert.ok(summary.slow_ok >= 3, describe(summary));
  } finally {
    // A failure above must not leave load running into the next tests.
    if (!summary) await load.stop();
  }
});

test("7. hardening: systemd-analyze security exposure of a color unit stays below 3.0", async () => {
  const unit = (await shOk(server, `readlink ${PROD}/serving.sock`)).replace(/^.*-(blue|green)\.sock$/, `${UNIT}@$1.service`);
  for (const name of [unit, `${UNIT}-proxy.service`]) {
    const report = await shOk(server, `systemd-analyze security ${name} --no-pager`);
    const exposure = Number(report.match(/Overall exposure level for \S+: ([0-9.]+)/)![1]);
    console.log(`# systemd-analyze security exposure ${name}: ${exposure}`);
    if (name === unit) assert.ok(exposure < 3.0, `exposure ${exposure}\n${report}`);
  }
});

test("8. an existing restart deployment moves to blue-green and back", async () => {
  const restart = await deploy(server, "development");
  assert.equal(await active("ai4artsed-development.service"), "active");
  assert.equal((await info(17802)).version, "1-dev");
  const moved = await deploy(server, "development", { app: { deployStrategy: "blue-green" } });
  assert.match(activateOutput(moved), /stopped ai4artsed-development\.service/);
  assert.equal(await shOk(server, "test -e /etc/systemd/system/ai4artsed-development.service && echo present || echo gone"), "gone");
  assert.equal(await active("ai4artsed-development-proxy.service"), "active");
  assert.equal(await active("ai4artsed-development@blue.service"), "active");
  assert.equal((await info(17802)).secure_cookie, false, "development stays development");
  assert.equal(await shOk(server, `readlink ${DEV}/current`), `${DEV}/releases/${restart.facts.commit}`);
  const back = await deploy(server, "development");
  assert.match(activateOutput(back), /stopped ai4artsed-development-proxy\.service/);
  assert.equal(await active("ai4artsed-development-proxy.service"), "inactive");
  assert.equal(await active("ai4artsed-development@blue.service"), "inactive");
  assert.equal(await active("ai4artsed-development.service"), "active");
  assert.equal((await info(17802)).status, "success");
  assert.equal((await info()).secure_cookie, true, "production untouched");
});

test("9. destroying a blue-green stack removes its units, proxy and sockets, keeps shared/", async () => {
  const dev = await deploy(server, "development", { app: { deployStrategy: "blue-green" } });
  await destroy(server, dev);
  for (const unit of ["ai4artsed-development-proxy.service", "ai4artsed-development@blue.service", "ai4artsed-development@green.service", "ai4artsed-development-egress@blue.service"]) {
    assert.equal(await active(unit), "inactive", unit);
  }
  assert.equal(await shOk(server, "ls /etc/systemd/system | grep ai4artsed-development || true"), "");
  assert.equal(await shOk(server, `ls ${DEV}`), "backups\nrevisions.log\nshared");
  assert.equal((await info()).status, "success", "production still serves");
});
