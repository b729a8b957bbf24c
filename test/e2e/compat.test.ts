/**
 * State compatibility through the real engine: a production stack deployed by the program as it
 * was before its deploy strategies became two components (a pinned commit, taken whole from this
 * repository's history) previews with today's program with no replace and no delete; then
 * app.deployStrategy switches to restart and back to blue-green, each way in place, the app
 * serving and its exports kept.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { mutate, publishRepo, ROOT, SERVER_REPO, shOk, startTestBed, stopTestServer, TestServer } from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";

/** The last commit before RestartService and BlueGreenService replaced AppService. */
const BEFORE_SPLIT = "faae9170f4a112a17f448138d390461e50e5cdfa";
const NAME = `ai4p${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const EXPORT = `${PROD}/shared/exports/compat-check.json`;
/** The steps only blue-green has, each installing one file. */
const BLUE_GREEN_ONLY_STEPS = ["bridge-socket", "bridge-service", "egress-service", "proxy-unit", "proxy-config"];
let server: TestServer;
let ws: PulumiWorkspace;
let oldProgram: string;

/** The program's files at `commit`, from this repository's history. */
function programAt(commit: string): string {
  const full = execFileSync("git", ["rev-parse", "--verify", "--quiet", `${commit}^{commit}`], { cwd: ROOT, encoding: "utf8" }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-program-"));
  execFileSync("bash", ["-c", `git archive ${full} | tar -x -C ${dir}`], { cwd: ROOT });
  return dir;
}

/** Steps that would remove something: a delete, or a replace (which runs a delete). */
function destructive(plan: Array<{ op: string; name: string }>): string[] {
  return plan.filter((step) => /delete|replace/.test(step.op)).map((step) => `${step.op} ${step.name}`);
}

async function health(): Promise<string> {
  return shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17801/api/schema/info || true");
}

before(async () => {
  try {
    oldProgram = programAt(BEFORE_SPLIT);
  } catch {
    throw new Error(`commit ${BEFORE_SPLIT} is not in this checkout; fetch the whole history (git fetch --unshallow) and run again`);
  }
  let repo: string;
  ({ server, repo } = await startTestBed(NAME));
  // The program before the split refuses a venv with a distribution that does not import, as it
  // refused the real app's torchtune: the fixture's such wheel goes for this test.
  mutate(repo, "main", "drop-unimportable");
  await publishRepo(server, repo);
  ws = new PulumiWorkspace("production", oldProgram);
  ws.init(server, SERVER_REPO, "production");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(), "200");
  await shOk(server, `echo '{"pupil":"kept"}' > ${EXPORT}`);
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
  if (oldProgram) fs.rmSync(oldProgram, { recursive: true, force: true });
});

test("1. a stack deployed before the strategy split previews with today's program with no replace and no delete; up updates in place", async () => {
  ws.useProgram(ROOT);
  const plan = ws.plan();
  console.log(`# preview after the split: ${plan.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).join(", ")}`);
  assert.deepEqual(destructive(plan), [], "no replace, no delete");
  assert.ok(!plan.some((s) => s.name === "production-service" && s.op === "create"), "the service component is matched through its alias");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(), "200");
  assert.deepEqual(destructive(ws.plan()), []);
});

test("2. app.deployStrategy blue-green -> restart -> blue-green: each switch in place, the app serving, exports kept", async () => {
  for (const strategy of ["restart", "blue-green"]) {
    ws.set("app.deployStrategy", strategy);
    const plan = ws.plan();
    const removed = destructive(plan);
    console.log(`# switch to ${strategy}: ${removed.join(", ") || "nothing removed"}`);
    // Only blue-green's own files leave the state (steps without a delete script: nothing runs on
    // the server; the restart activation stops the proxy and colors). The shared steps update in place.
    const allowed = strategy === "restart" ? BLUE_GREEN_ONLY_STEPS.map((step) => `delete production-service-${step}`) : [];
    assert.deepEqual(removed.filter((step) => !allowed.includes(step)), [], `no replace, and no delete but blue-green's own files: ${removed.join(", ")}`);
    ws.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(await health(), "200", `serving after the switch to ${strategy}`);
    const unit = strategy === "restart" ? "ai4artsed-production.service" : "ai4artsed-production-proxy.service";
    assert.equal(await shOk(server, `systemctl is-active ${unit}`), "active");
    assert.equal(await shOk(server, `cat ${EXPORT}`), '{"pupil":"kept"}');
  }
});
