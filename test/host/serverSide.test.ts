/**
 * The server finishes a deploy by itself: the activation (gate, switch, watch window, revert,
 * record, drain, prune) runs on a real Debian server as a transient unit of its own, and the SSH
 * session of `pulumi up` only follows it. A network cut without a FIN, or sshd restarting inside
 * the window, changes nothing about the outcome; the next run reports it and converges. One
 * `pulumi up` of a stack at a time: the deploy lock, held as long as its session lives.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import { parseStackConfig } from "../../config/load";
import { inspectServer, lastActivationReport, ServerInspection } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { stepResultOf } from "../../components/steps/remoteScript";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import { cutNetwork, deploy, Deployment, mendNetwork, mutate, publishRepo, SERVER_REPO, sh, shOk, startTestBed, StepFailed, stopTestServer, TestServer } from "./harness";
import { waitFor } from "./harness";

const NAME = `ai4s${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const DEV = "/opt/ai4artsed-development";
const UNIT = "ai4artsed-production";
let server: TestServer;
let repo: string;

/** The program-time inspection as `pulumi preview` (no lock) or `pulumi up` (the lock, held by `holder`) runs it. */
async function inspect(stack: "production" | "development", holder?: string): Promise<ServerInspection> {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const { environment, config } = parseStackConfig(stack, rawConfig({ server: serverConfig, app: { repoUrl: SERVER_REPO } }), SECRET_SECTIONS);
  return inspectServer(stack, environment, config, denyPortsOf(config), { deployLockHolder: holder });
}

async function servingColor(): Promise<string> {
  return (await shOk(server, `readlink ${PROD}/serving.sock`)).replace(/^.*-(blue|green)\.sock$/, "$1");
}

/** Wait until the activation of `commit` runs on the server and has switched to it (the window is on). */
async function inWindow(installDir: string, commit: string): Promise<void> {
  await waitFor(
    `the activation of ${commit} in its watch window`,
    () => shOk(server, `systemctl is-active ${installDir.endsWith("production") ? UNIT : "ai4artsed-development"}-activate.service || true; readlink ${installDir}/current`),
    (out) => out === `active\n${installDir}/releases/${commit}`,
    120,
  );
}

/** A deploy whose session is cut off inside the window: it fails on this side, within a minute and a half. */
async function deployCutInWindow(stack: "production" | "development", installDir: string, commit: string, stableSeconds: number): Promise<Error> {
  const running = deploy(server, stack, { app: { stableSeconds } }).then(
    () => assert.fail("the deploy's session survived a network cut"),
    (err: Error) => err,
  );
  await inWindow(installDir, commit);
  const cut = Date.now();
  cutNetwork(server);
  try {
    const err = await running;
    const noticed = (Date.now() - cut) / 1000;
    console.log(`# the cut was noticed after ${noticed.toFixed(1)} s: ${err.message.split("\n")[0]}`);
    assert.ok(noticed <= 90, `a dead connection is noticed within about a minute: ${noticed} s`);
    // Past the window: the server has decided meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stableSeconds * 1000 + 5000 - (Date.now() - cut))));
    return err;
  } finally {
    mendNetwork(server);
  }
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
  await deploy(server, "production");
  await deploy(server, "development");
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. the activation runs as a unit of its own; the step follows it: progress as it comes, the result last", async () => {
  const commit = mutate(repo, "develop", "code");
  await publishRepo(server, repo);
  const deployment: Deployment = await deploy(server, "development", { app: { stableSeconds: 3 } });
  const out = deployment.runs.find((r) => r.step === "service-activate")!.result.stdout;
  assert.match(out, /stayed healthy for the 3s watch window/);
  assert.deepEqual(stepResultOf(out), { servingUnit: "ai4artsed-development.service" });
  const journal = await shOk(server, "journalctl -u ai4artsed-development-activate.service -o cat --no-pager");
  assert.match(journal, new RegExp(`Activate ${commit}`), "systemd ran it as ai4artsed-development-activate.service");
  const status = await shOk(server, `cat ${DEV}/activation/status`);
  assert.match(status, /^exit=0$/m);
  assert.match(status, /^reported=yes$/m);
  assert.equal(lastActivationReport((await inspect("development")).observed.get("last-activation"), DEV, "ai4artsed-development"), undefined, "nothing to report");
});

test("2. network cut without a FIN inside the window, healthy release: the server keeps it, records it, drains the old color; the next run reports it and converges", async () => {
  const old = await servingColor();
  const commit = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const err = await deployCutInWindow("production", PROD, commit, 15);
  assert.match(err.message, /was lost|timed out|closed/);
  await waitFor("the activation to end", () => shOk(server, `systemctl is-active ${UNIT}-activate.service || true`), (s) => s !== "active", 60);
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${commit}`);
  assert.match(await shOk(server, `tail -n 1 ${PROD}/revisions.log`), new RegExp(`${commit}\tok \\((blue|green)\\)`));
  assert.notEqual(await servingColor(), old);
  await waitFor("the old color to drain and stop", () => shOk(server, `systemctl is-active ${UNIT}@${old}.service || true`), (s) => s === "inactive", 60);
  // The next preview says what happened; it does not mark it told.
  const preview = lastActivationReport((await inspect("production")).observed.get("last-activation"), PROD, UNIT);
  console.log(`# preview after the cut: ${preview}`);
  assert.match(preview ?? "", new RegExp(`lost its connection before the server finished: the activation of ${commit} .* ended at .*, kept: ${commit} serves on ${UNIT}@(blue|green)\\.service`));
  // The next up reports it once and converges: nothing to do, it serves already.
  const again = await deploy(server, "production");
  const out = again.runs.find((r) => r.step === "service-activate")!.result.stdout;
  assert.match(out, new RegExp(`${commit} already serving and healthy`));
  assert.equal(lastActivationReport((await inspect("production")).observed.get("last-activation"), PROD, UNIT), undefined, "told once");
});

test("3. network cut inside the window, a release that crashes after the switch: the server reverts it; the next run says so", async () => {
  const good = await shOk(server, `basename "$(readlink ${PROD}/current)"`);
  const old = await servingColor();
  const bad = mutate(repo, "main", "die-after-8");
  await publishRepo(server, repo);
  await deployCutInWindow("production", PROD, bad, 20);
  await waitFor("the activation to end", () => shOk(server, `systemctl is-active ${UNIT}-activate.service || true`), (s) => s !== "active", 60);
  assert.equal(await servingColor(), old, "traffic went back to the old color");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${good}`);
  assert.equal(await shOk(server, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17801/api/schema/info`), "200");
  const log = await shOk(server, `tail -n 2 ${PROD}/revisions.log`);
  assert.match(log, new RegExp(`${bad}\treverted: `));
  assert.match(log, new RegExp(`${good}\tserving again after reverted ${bad}`));
  const report = lastActivationReport((await inspect("production")).observed.get("last-activation"), PROD, UNIT);
  console.log(`# preview after the cut: ${report}`);
  assert.match(report ?? "", new RegExp(`the activation of ${bad} .* failed: deploy of ${bad} reverted \\(.*exited with status 3.*\\); ${good} serves again`));
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  await deploy(server, "production");
});

test("4. sshd restarted inside the window: the session goes on and the deploy reports its verdict", async () => {
  const commit = mutate(repo, "develop", "code");
  await publishRepo(server, repo);
  const running = deploy(server, "development", { app: { stableSeconds: 10 } });
  await inWindow(DEV, commit);
  await shOk(server, "systemctl restart ssh.service");
  const deployment = await running;
  const out = deployment.runs.find((r) => r.step === "service-activate")!.result.stdout;
  assert.match(out, /stayed healthy for the 10s watch window/);
  assert.deepEqual(stepResultOf(out), { servingUnit: "ai4artsed-development.service" });
  assert.match(await shOk(server, `tail -n 1 ${DEV}/revisions.log`), new RegExp(`${commit}\tok`));
});

test("5. one `pulumi up` of a stack at a time: a second is refused naming the first; a lost one lets go within a minute", async () => {
  const first = await inspect("development", "alice@laptop");
  await assert.rejects(inspect("development", "bob@desk"), (err: Error) => {
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /another 'pulumi up' of stack 'development' is deploying to .* by alice@laptop\)/);
    return true;
  });
  const preview = await inspect("development");
  preview.releaseDeployLock();
  const production = await inspect("production", "bob@desk");
  production.releaseDeployLock();
  first.releaseDeployLock();
  // A session lost with its network (no FIN): sshd notices within a minute (ClientAlive) and the lock goes with it.
  const lost = await inspect("development", "dave@laptop-that-sleeps");
  cutNetwork(server);
  await new Promise((resolve) => setTimeout(resolve, 80_000));
  mendNetwork(server);
  const free = await inspect("development", `carol@${os.hostname()}`);
  free.releaseDeployLock();
  lost.releaseDeployLock();

  // A first deploy enables the firewall while its `pulumi up` holds the lock: the lock still goes
  // as the process ends (a FIN alone, of a connection the new firewall never saw, is dropped).
  await shOk(server, "ufw --force disable");
  const holder = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "lock-holder.ts"), JSON.stringify(server)], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
    holder.on("exit", (code) => reject(new Error(`the lock holder ended first (${code})`)));
  });
  await shOk(server, "ufw --force enable");
  const ended = new Promise((resolve) => holder.on("exit", resolve));
  holder.stdin.end();
  await ended;
  await waitFor("the ended process's lock to go", () => inspect("development", "erin@desk").then((inspection) => (inspection.releaseDeployLock(), "free"), (err: Error) => err.message), (state) => state === "free", 10);
});

test("6. sshd's drop-in ends a session whose client is gone within a minute", async () => {
  const config = await shOk(server, "sshd -T | grep -E '^clientalive(interval|countmax) '");
  assert.match(config, /^clientaliveinterval 15$/m);
  assert.match(config, /^clientalivecountmax 4$/m);
  const result = await sh(server, "true");
  assert.equal(result.code, 0);
});
