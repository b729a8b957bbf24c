/**
 * The after-deploy check (`npm run smoke -- -s production`) with a real browser against a real
 * deploy: Debian's chromium-headless-shell loads the page through the stack's SSH connection.
 * A good release passes; a release whose page references a missing asset fails; one whose script
 * throws fails. The screenshots stay in test-output/ for the job's output.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT, SERVER_REPO, shOk, startTestBed, stopTestServer, TestServer } from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";

const NAME = `ai4w${process.pid % 10000}`;
const DIST = "/opt/ai4artsed-production/current/public/ai4artsed-frontend/dist";
const OUTPUT = path.join(ROOT, "test-output");
let server: TestServer;
let ws: PulumiWorkspace;
/** The page's main script, as index.html references it. */
let script: string;

before(async () => {
  ({ server } = await startTestBed(NAME));
  ws = new PulumiWorkspace("production");
  ws.init(server, SERVER_REPO, "production");
  ws.ok(["up", "--yes", "--skip-preview"]);
  script = await shOk(server, `cd "$(readlink -f ${DIST})" && grep -o 'assets/[^"]*\\.js' index.html | head -n 1`);
  fs.mkdirSync(OUTPUT, { recursive: true });
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
});

/** `npm run smoke -- -s production` in the operator's checkout (the workspace: its state and config). */
function smoke(name: string): { code: number; output: string; screenshot: string } {
  const screenshot = path.join(OUTPUT, `smoke-${name}.png`);
  fs.rmSync(screenshot, { force: true });
  const run = spawnSync("node", ["--import", "tsx", path.join(ROOT, "scripts", "smoke.ts"), "-s", "production", "--screenshot", screenshot], {
    cwd: ws.dir,
    env: ws.env,
    timeout: 120_000,
  });
  const output = `${run.stdout}\n${run.stderr}`;
  console.log(`# smoke ${name}: exit ${run.status}, screenshot ${screenshot}\n${output.trim().replace(/^/gm, "#   ")}`);
  return { code: run.status ?? 255, output, screenshot };
}

function isPng(file: string): boolean {
  return fs.existsSync(file) && fs.readFileSync(file).subarray(1, 4).toString() === "PNG" && fs.statSync(file).size > 1000;
}

test("1. a good release: the page loads with no console error and no failed request, the API answers; a screenshot is kept", () => {
  const run = smoke("good");
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /the page loaded in the browser with no console error and no failed request \([1-9]\d* requests\), the API answered 200 through the server/);
  assert.ok(isPng(run.screenshot), "a screenshot of the page");
});

test("2. a page that references a missing asset (a half-pruned dist) fails, naming the asset", async () => {
  await shOk(server, `mv ${DIST}/${script} /root/kept-asset.js`);
  try {
    const run = smoke("missing-asset");
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, new RegExp(`/${script.replace(/\./g, "\\.")} answered 404`));
    assert.ok(isPng(run.screenshot));
  } finally {
    await shOk(server, `mv /root/kept-asset.js ${DIST}/${script}`);
  }
});

test("3. a script that throws fails on the console check", async () => {
  await shOk(server, `cp ${DIST}/${script} /root/kept-asset.js && printf '\\nthrow new Error("the release is broken");\\n' >>${DIST}/${script}`);
  try {
    const run = smoke("script-error");
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /script error: the release is broken/);
  } finally {
    await shOk(server, `mv /root/kept-asset.js ${DIST}/${script}`);
  }
  assert.equal(smoke("good-again").code, 0);
});
