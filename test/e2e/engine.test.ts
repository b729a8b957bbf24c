/**
 * The real Pulumi engine against the real test server: up (with what the real app needs on a
 * fresh server), preview, config changes, new commits, pinned rollback, a failing health gate,
 * the GPU service added, destroy, and the secrets in exported state.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { headOf, mutate, publishRepo, SERVER_REPO, shOk, startTestBed, stopTestServer, TestServer } from "../host/harness";
import { assertFirstStartNeedsMet } from "../host/appNeeds";
import { PulumiWorkspace } from "../../tools/workspace";

const NAME = `ai4e${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const APP_SECRET = "sk-e2e-app-secret-4f1c2a";
let server: TestServer;
let repo: string;
let ws: PulumiWorkspace;

async function health(port: number): Promise<string> {
  return shOk(server, `curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:${port}/api/schema/info || true`);
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
  ws = new PulumiWorkspace("production");
  ws.init(server, SERVER_REPO, "production");
  ws.set("app.secrets.OPENAI_API_KEY", APP_SECRET, true);
  ws.set("app.healthTimeoutSeconds", "30");
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
});

test("up deploys the fixture app; outputs name URL, commit and release", async () => {
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# first up: ${up.seconds.toFixed(1)} s`);
  const out = ws.outputs();
  const main = headOf(repo, "main");
  assert.equal(out.url, "http://127.0.0.1:17801/api/schema/info");
  assert.equal(out.revision, main);
  assert.equal(out.releasePath, `${PROD}/releases/${main}`);
  // Production deploys blue-green: the output names the serving color's unit.
  assert.match(out.serviceName, /^ai4artsed-production@(blue|green)\.service$/);
  assert.equal(await health(17801), "200");
  // A fresh Debian 13 server, /tmp a small tmpfs, the production defaults, nothing done by hand.
  await assertFirstStartNeedsMet(server, PROD, "ai4artsed-production", 17801);
});

test("preview right after up reports no changes", () => {
  const preview = ws.run(["preview", "--expect-no-changes", "--diff"]);
  assert.equal(preview.code, 0, preview.stdout + preview.stderr);
  console.log(`# no-op preview: ${preview.seconds.toFixed(1)} s`);
  const noop = ws.ok(["up", "--yes", "--expect-no-changes", "--skip-preview"]);
  console.log(`# no-op up: ${noop.seconds.toFixed(1)} s`);
});

test("a port change moves the app, the unit's environment, the firewall and the health gate", async () => {
  ws.set("app.port", "17811");
  const preview = ws.ok(["preview", "--diff"]);
  assert.match(preview.stdout, /PORT="17811"|\[secret\]/);
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(17811), "200");
  assert.equal(await health(17801), "000", "the old port is closed");
  assert.equal(ws.outputs().url, "http://127.0.0.1:17811/api/schema/info");
  const ufw = await shOk(server, "ufw status");
  assert.match(ufw, /17811\/tcp\s+DENY\s/);
  assert.doesNotMatch(ufw, /17801\/tcp/);
  ws.set("app.port", "17801");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(17801), "200");
});

test("a new commit deploys on up; pinning the previous one rolls back in seconds without a build", async () => {
  const previous = headOf(repo, "main");
  const next = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const preview = ws.ok(["preview", "--diff"]);
  assert.ok(preview.stdout.includes(next), "preview names the commit it would deploy");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(ws.outputs().revision, next);
  ws.set("app.revision", previous);
  const rollback = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# rollback by pinned revision: ${rollback.seconds.toFixed(1)} s`);
  assert.equal(ws.outputs().revision, previous);
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${previous}`);
  assert.doesNotMatch(rollback.stdout, /building/, "no venv or frontend build on rollback");
  ws.ok(["config", "rm", "--path", "app.revision"]);
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(ws.outputs().revision, next);
});

test("a commit failing its health gate fails up clearly; the old release serves; a fix deploys", async () => {
  const good = headOf(repo, "main");
  const bad = mutate(repo, "main", "break-startup");
  await publishRepo(server, repo);
  const failed = ws.run(["up", "--yes", "--skip-preview"]);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stdout + failed.stderr, new RegExp(`deploy of ${bad} failed \\(the service exited during startup\\); ${good} is still serving on ai4artsed-production@(blue|green)\\.service, untouched`));
  assert.equal(await health(17801), "200");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${good}`);
  const fixed = mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(ws.outputs().revision, fixed);
  assert.equal(await health(17801), "200");
});

test("the GPU service added to a deployed stack: created beside it, nothing replaced or deleted, the backend reaches it; a second up changes nothing", async () => {
  ws.set("app.services.gpu-service.directory", "gpu_service");
  ws.set("app.services.gpu-service.port", "17803");
  ws.set("app.services.gpu-service.portVariable", "GPU_SERVICE_PORT");
  ws.set("app.services.gpu-service.environment.DIFFUSERS_DEVICE", "cpu");
  const plan = ws.plan();
  assert.deepEqual(plan.filter((step) => ["delete", "replace", "create-replacement", "delete-replaced"].includes(step.op)), [], "no step is replaced or deleted");
  assert.ok(plan.some((step) => step.op === "create" && step.name === "production-gpu-service-activate"), JSON.stringify(plan));
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# up adding the GPU service: ${up.seconds.toFixed(1)} s`);
  const reached = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/gpu"));
  assert.equal(reached.service.status, "ok");
  assert.equal(reached.service.device, "cpu");
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test("exported state holds no plaintext secret", async () => {
  const state = ws.ok(["stack", "export"]).stdout;
  const secretKey = (await shOk(server, "sed -n 's/^SECRET_KEY=\"\\(.*\\)\"$/\\1/p' /etc/ai4artsed/ai4artsed-production.env"));
  assert.ok(secretKey.length >= 32, "the server has a SECRET_KEY");
  const keyBody = server.privateKey.split("\n")[1];
  for (const [what, value] of [["SECRET_KEY", secretKey], ["SSH private key", keyBody], ["app secret", APP_SECRET]]) {
    assert.ok(!state.includes(value), `${what} appears in plain text in the exported state`);
  }
});

test("destroy removes what the stack made and keeps exports", async () => {
  await shOk(server, `curl -sf -X POST --data pupil-work 'http://127.0.0.1:17801/api/export?name=keep.txt'`);
  ws.ok(["destroy", "--yes", "--skip-preview"]);
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-production.service && test ! -e /etc/ai4artsed/ai4artsed-production.env");
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-gpu-service.service && test ! -e /etc/ai4artsed/ai4artsed-gpu-service.env");
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-gpu-service || true"), "inactive");
  assert.equal(await health(17801), "000");
  assert.equal(await shOk(server, `cat ${PROD}/shared/exports/keep.txt`), "pupil-work");
  assert.doesNotMatch(await shOk(server, "ufw status"), /ai4artsed-production/);
  assert.match(await shOk(server, "ufw status"), /22\/tcp\s+ALLOW\s/);
});
