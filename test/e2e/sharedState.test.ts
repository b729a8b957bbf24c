/**
 * The stacks' state off the laptop, with the real engine: two operators' checkouts keep the
 * production stack's state in one S3-compatible bucket (SeaweedFS on a second test server, the
 * URL in Pulumi.yaml's backend.url as the team commits it), and deploy the app server in turn.
 * The runbook's procedure moves a laptop's state there; the engine's lock keeps two deploys
 * apart; and a lost state is harmless: the stack initialised again from its committed config
 * converges on the live server with no failed request. Tests run in order.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { headOf, mutate, publishRepo, SERVER_REPO, shOk, startTestBed, startTestServer, stopTestServer, TestServer, waitFor } from "../host/harness";
import { failures, startLoad } from "../../tools/load/load";
import { startStateStore, StateStore } from "../../tools/statestore/statestore";
import { PulumiWorkspace } from "../../tools/workspace";

const APP = `ai4l${process.pid % 10000}`;
const STORE = `ai4t${process.pid % 10000}`;
const STACK = "production";
const EXPORTS = "/opt/ai4artsed-production/shared/exports";
let server: TestServer;
let storeServer: TestServer;
let store: StateStore;
let repo: string;
/** The first operator's checkout: deployed with a file backend first, then moved. */
let first: PulumiWorkspace;
/** The second operator's: the repository (Pulumi.yaml, Pulumi.production.yaml) and the passphrase only. */
let second: PulumiWorkspace;

before(async () => {
  ({ server, repo } = await startTestBed(APP));
  storeServer = startTestServer(STORE);
  store = await startStateStore(storeServer);
});

after(() => {
  if (server) stopTestServer(APP);
  if (storeServer) stopTestServer(STORE);
  first?.remove();
  second?.remove();
});

function clean(ws: PulumiWorkspace, who: string): void {
  const preview = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(preview.code, 0, `${who}'s preview is not clean:\n${preview.stdout}\n${preview.stderr}`);
}

async function newCommit(): Promise<string> {
  mutate(repo, "main", "code");
  await publishRepo(server, repo);
  return headOf(repo, "main");
}

test("1. a laptop's stack moves to the shared backend (stack export, init, import) and its preview is clean", async () => {
  first = new PulumiWorkspace(STACK);
  first.init(server, SERVER_REPO, STACK);
  first.ok(["up", "--yes", "--skip-preview"]);
  const exported = path.join(first.dir, "production-state.json");
  first.ok(["stack", "export", "--file", exported]);

  first.useSharedBackend(store.url, store.credentials);
  first.ok(["stack", "init", STACK]);
  first.ok(["stack", "import", "--file", exported]);
  clean(first, "the first operator");
});

test("2. a second operator's fresh checkout, with only the repository and the passphrase, reaches a clean preview", () => {
  second = new PulumiWorkspace(STACK);
  second.useSharedBackend(store.url, store.credentials);
  fs.copyFileSync(path.join(first.dir, `Pulumi.${STACK}.yaml`), path.join(second.dir, `Pulumi.${STACK}.yaml`));
  clean(second, "the second operator");
});

test("3. the operators deploy one after the other, and each sees the other's deploy in preview", async () => {
  const one = await newCommit();
  second.ok(["up", "--yes", "--skip-preview"]);
  clean(first, "the first operator, after the second one's deploy,");
  assert.equal(first.outputs().revision, one);

  const two = await newCommit();
  first.ok(["up", "--yes", "--skip-preview"]);
  clean(second, "the second operator, after the first one's deploy,");
  assert.equal(second.outputs().revision, two);
});

test("4. two deploys at once: the second stops at the engine's lock with a clear message, the first finishes", async () => {
  const next = await newCommit();
  const running = first.start(["up", "--yes", "--skip-preview"]);
  await waitFor("the first deploy's lock", () => store.locks(STACK), (locks) => locks.length > 0, 60);
  const refused = second.run(["up", "--yes", "--skip-preview"]);
  assert.notEqual(refused.code, 0);
  assert.match(`${refused.stdout}\n${refused.stderr}`, /the stack is currently locked by 1 lock\(s\)/);
  const done = await running.done;
  assert.equal(done.code, 0, done.stdout + done.stderr);
  assert.deepEqual(await store.locks(STACK), [], "the lock goes with the deploy");
  clean(second, "the second operator");
  assert.equal(second.outputs().revision, next);
});

test("5. a lost state is harmless: the stack initialised again from its committed config converges on the live server, no request fails, the exports stay", async () => {
  await shOk(server, `printf 'Klasse 7a' >${EXPORTS}/kept-through-a-lost-state.txt`);
  const kept = await shOk(server, `sha256sum ${EXPORTS}/kept-through-a-lost-state.txt`);
  const serving = await shOk(server, "readlink /opt/ai4artsed-production/current");
  const secretKey = () => shOk(server, `sed -n 's/^SECRET_KEY="\\(.*\\)"$/\\1/p' /etc/ai4artsed/ai4artsed-production.env`);
  const key = await secretKey();
  assert.match(key, /^[0-9a-f]{64}$/);
  // Lost: the stack and its state are gone from the backend; the committed config stays.
  first.ok(["stack", "rm", "--force", "--yes", "--preserve-config"]);
  first.ok(["stack", "init", STACK]);
  // The runbook: the app's SECRET_KEY, which lived in the state, is kept from the server.
  first.set("app.secretKey", key, true);
  fs.copyFileSync(path.join(first.dir, `Pulumi.${STACK}.yaml`), path.join(second.dir, `Pulumi.${STACK}.yaml`)); // committed, pulled

  const load = await startLoad(server, { port: 17801, rate: 20, slow: 3, slowSeconds: 2 });
  const up = first.run(["up", "--yes", "--skip-preview"]);
  const summary = await load.stop();
  assert.equal(up.code, 0, up.stdout + up.stderr);
  console.log(`# up after a lost state: ${up.seconds.toFixed(1)} s; requests ${JSON.stringify({ ok: summary.quick_ok + summary.slow_ok, failed: failures(summary) })}`);
  assert.equal(failures(summary), 0, JSON.stringify(summary.failed));
  assert.equal(await shOk(server, `sha256sum ${EXPORTS}/kept-through-a-lost-state.txt`), kept);
  assert.equal(await shOk(server, "readlink /opt/ai4artsed-production/current"), serving, "the same release serves");
  assert.equal(await secretKey(), key, "the app keeps its SECRET_KEY");
  clean(first, "the first operator");
  clean(second, "the second operator");
});
