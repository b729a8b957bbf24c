/**
 * The app's own extra services on a real Debian server: the fixture's GPU service (its own
 * directory, health route, called by the backend) as a unit of its own, owned by production and
 * shared by both environments. A backend-only deploy leaves it running; a change in its directory
 * restarts it behind its gate; a broken change rolls back; a crash restarts it and alerts; drift
 * of its unit shows and is repaired; a hand-started instance is taken over, anything else on its
 * port is refused and left alone.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseStackConfig } from "../../config/load";
import { inspectServer } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import { alerts, deploy, Deployment, failedDeploy, mutate, publishRepo, SERVER_REPO, sh, shOk, startTestBed, stopTestServer, TestServer, waitFor } from "./harness";

const NAME = `ai4g${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const UNIT = "ai4artsed-gpu-service.service";
/** The GPU service as docs/design.md configures it, on a server without a GPU. */
const SERVICES = { "gpu-service": { directory: "gpu_service", port: 17803, portVariable: "GPU_SERVICE_PORT", environment: { DIFFUSERS_DEVICE: "cpu" } } };
/** Production runs it (blue-green, the default); development only reaches it. */
const PRODUCTION = { app: { services: SERVICES }, monitor: { intervalSeconds: 2, alertAfterSeconds: 4 } };
const DEVELOPMENT = { app: { services: SERVICES } };
let server: TestServer;
let repo: string;

async function health(): Promise<Record<string, any>> {
  return JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17803/api/health"));
}

async function mainPid(): Promise<string> {
  return shOk(server, `systemctl show -P MainPID ${UNIT}`);
}

function activation(deployment: Deployment): string {
  return deployment.runs.find((r) => r.step === "gpu-service-activate")!.result.stdout;
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. production runs the service as a unit of its own, from its release and venv, on 127.0.0.1 only; both backends reach it", async () => {
  const prod = await deploy(server, "production", PRODUCTION);
  assert.match(activation(prod), /ai4artsed-gpu-service \(gpu_service of [0-9a-f]{40}\) is serving and healthy/);
  const service = await health();
  assert.equal(service.status, "ok");
  assert.equal(service.device, "cpu");
  assert.equal(service.release, `${PROD}/releases/${prod.facts.commit}/gpu_service`);
  assert.equal(await shOk(server, `systemctl show -P User ${UNIT}; systemctl is-enabled ${UNIT}`), "ai4artsed-production\nenabled");
  assert.equal(await shOk(server, `readlink ${PROD}/services/gpu-service/current`), `${PROD}/releases/${prod.facts.commit}`);
  assert.match(await shOk(server, "ss -Hltn 'sport = :17803' | awk '{ print $4 }'"), /^127\.0\.0\.1:17803$/);
  // Its cache (models, the Hugging Face cache) is its own, outside every release.
  const generated = JSON.parse(await shOk(server, "curl -sf -X POST http://127.0.0.1:17803/api/generate"));
  assert.equal(generated.model_bytes, 1024);
  assert.match(await shOk(server, "stat -c '%U %n' /var/cache/ai4artsed-gpu-service/.cache/huggingface/fixture-model.bin"), /^ai4artsed-production /);
  // Production's colors reach it from their namespaces, development's backend from the host.
  await deploy(server, "development", DEVELOPMENT);
  for (const port of [17801, 17802]) {
    const reached = JSON.parse(await shOk(server, `curl -sf http://127.0.0.1:${port}/api/gpu`));
    assert.equal(reached.service.pid, service.pid, `the backend on ${port} reaches the one service`);
  }
  assert.equal(await shOk(server, "systemctl list-units --all --plain --no-legend 'ai4artsed-development-gpu*' | wc -l"), "0", "development runs no service of its own");
});

test("2. a backend-only deploy leaves it running: same PID, same release", async () => {
  const pid = await mainPid();
  const before = await health();
  mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const prod = await deploy(server, "production", PRODUCTION);
  assert.match(activation(prod), /already serving and healthy; nothing to do/);
  assert.equal(await mainPid(), pid);
  assert.equal((await health()).release, before.release, "it still runs from the release it started from");
  assert.equal(await shOk(server, `test -d ${before.release} && echo kept`), "kept");
});

test("3. a change in its directory restarts it behind its gate, from the new release", async () => {
  const pid = await mainPid();
  const commit = mutate(repo, "main", "service-code");
  await publishRepo(server, repo);
  const prod = await deploy(server, "production", PRODUCTION);
  assert.match(activation(prod), /restarting ai4artsed-gpu-service\.service/);
  assert.notEqual(await mainPid(), pid);
  const service = await health();
  assert.equal(service.revision, 2);
  assert.equal(service.release, `${PROD}/releases/${commit}/gpu_service`);
  assert.match(await shOk(server, `tail -n 3 ${PROD}/revisions.log`), new RegExp(`ai4artsed-gpu-service@${commit}\tok`));
});

test("4. a broken change rolls the service back, names it, and the backend does not switch", async () => {
  const good = await health();
  const backend = await shOk(server, `readlink ${PROD}/current`);
  mutate(repo, "main", "break-service");
  await publishRepo(server, repo);
  const failure = await failedDeploy(server, "production", PRODUCTION, "a GPU service that dies at start");
  assert.equal(failure.step, "gpu-service-activate");
  assert.match(failure.result.stderr, /deploy of ai4artsed-gpu-service \(gpu_service of [0-9a-f]{40}\) failed \(the service exited during startup\); rolled back: [0-9a-f]{40} is serving and healthy again/);
  assert.match(failure.result.stderr, /RuntimeError: fixture: GPU service startup broken on purpose/);
  assert.equal((await health()).release, good.release, "the previous release serves again");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), backend, "the backend did not switch");
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  await deploy(server, "production", PRODUCTION);
});

test("5. a crash restarts it; a crash loop alerts, naming the service", async () => {
  const pid = await mainPid();
  await shOk(server, `systemctl kill -s KILL ${UNIT}`);
  await waitFor("the service to come back", () => mainPid(), (now) => now !== "0" && now !== pid, 30);
  await waitFor("the service to answer", () => sh(server, "curl -sf -o /dev/null http://127.0.0.1:17803/api/health").then((r) => r.code), (code) => code === 0, 30);
  // Killed again and again: its monitor sees the process replaced at every probe and alerts once.
  for (let i = 0; i < 4; i++) {
    await shOk(server, `systemctl kill -s KILL ${UNIT}`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  const down = await waitFor("the service's alert", () => alerts(server, "ai4artsed-gpu-service"), (lines) => lines.some((l) => l.startsWith("3 ")), 60);
  assert.match(down.find((l) => l.startsWith("3 "))!, /ai4artsed-gpu-service\.service is down/);
  await waitFor("the recovery", () => alerts(server, "ai4artsed-gpu-service"), (lines) => lines.some((l) => /recovered/.test(l)), 60);
});

test("6. drift of its unit shows and is repaired", async () => {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const { environment, config } = parseStackConfig("production", rawConfig({ server: serverConfig, app: { repoUrl: SERVER_REPO, services: SERVICES } }), SECRET_SECTIONS);
  const observe = async () => (await inspectServer("production", environment, config, denyPortsOf(config))).observed;
  assert.equal((await observe()).get("extra-service:gpu-service"), "active enabled");
  await shOk(server, `systemctl disable --now ${UNIT} && sed -i 's/^RestartSec=10$/RestartSec=99/' /etc/systemd/system/${UNIT} && systemctl daemon-reload`);
  const drifted = await observe();
  assert.equal(drifted.get("extra-service:gpu-service"), "inactive disabled");
  assert.match(drifted.get("extra-unit:gpu-service") ?? "", /^RestartSec=99$/m);
  const repaired = await deploy(server, "production", PRODUCTION);
  assert.match(activation(repaired), /restarting ai4artsed-gpu-service\.service/);
  assert.equal((await observe()).get("extra-service:gpu-service"), "active enabled");
  assert.match(await shOk(server, `cat /etc/systemd/system/${UNIT}`), /^RestartSec=10$/m);
});

test("7. a hand-started instance is taken over with one short gap; anything else on its port is refused and left running", async () => {
  // As its operators run it today: from a checkout, in a terminal, with the checkout's venv.
  await shOk(server, `systemctl disable --now ${UNIT} && rm -rf ${PROD}/services/gpu-service/.deployed`);
  const venv = await shOk(server, `readlink -f ${PROD}/current/venv`);
  await shOk(
    server,
    `mkdir -p /home/lab/ai4artsed_webserver && git --git-dir=${PROD}/repo.git archive main:gpu_service --prefix=gpu_service/ | tar -x -C /home/lab/ai4artsed_webserver && ` +
      `cd /home/lab/ai4artsed_webserver/gpu_service && (setsid ${venv}/bin/python server.py >/home/lab/gpu.log 2>&1 &) && ` +
      "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:17803/api/health && exit 0; sleep 0.2; done; exit 1",
  );
  const handPid = (await health()).pid;
  const probe = await shOk(server, "cat >/root/probe.sh <<'EOF'\nend=$((SECONDS + 120)); while ((SECONDS < end)); do curl -s -o /dev/null -m 1 -w '%{http_code}\\n' http://127.0.0.1:17803/api/health || echo 000; sleep 0.1; done >/root/probe.log\nEOF\nsystemd-run --quiet --unit=gap-probe bash /root/probe.sh && echo started");
  assert.equal(probe, "started");
  const prod = await deploy(server, "production", PRODUCTION);
  await shOk(server, "systemctl stop gap-probe");
  assert.match(activation(prod), new RegExp(`taking over the hand-started ai4artsed-gpu-service \\(pid ${handPid}: .*server\\.py .*in /home/lab/ai4artsed_webserver/gpu_service\\): stopping it`));
  assert.equal(await shOk(server, `kill -0 ${handPid} 2>/dev/null && echo alive || echo gone`), "gone");
  assert.notEqual((await health()).pid, handPid);
  const codes = (await shOk(server, "cat /root/probe.log")).split("\n");
  const failed = codes.filter((c) => c !== "200").length;
  console.log(`# take-over of a hand-started GPU service: ${failed} of ${codes.length} probes (one each 0.1 s) failed`);
  assert.ok(failed < 100, `one short gap: ${failed} failed probes`);

  // Something else on the port: refused, named, and left running.
  await shOk(server, `systemctl disable --now ${UNIT} && rm -f ${PROD}/services/gpu-service/.deployed`);
  await shOk(server, "systemd-run --quiet --unit=squatter python3 -m http.server 17803 --bind 127.0.0.1 && sleep 1");
  const refused = await failedDeploy(server, "production", PRODUCTION, "a service whose port another program holds");
  assert.equal(refused.step, "gpu-service-activate");
  assert.match(refused.result.stderr, /port 17803, which ai4artsed-gpu-service\.service needs, is held by pid \d+ \(.*http\.server.*, unit squatter\.service\), which is not this program's; nothing was changed/);
  assert.equal(await shOk(server, "systemctl is-active squatter"), "active", "nothing is killed by port");
  await shOk(server, "systemctl stop squatter");
  await deploy(server, "production", PRODUCTION);
  assert.equal((await health()).status, "ok");
});
