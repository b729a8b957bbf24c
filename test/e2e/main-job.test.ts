/**
 * The README's main job, run twice in a row as a newcomer would: `npm run up:local` boots a
 * fresh local test server each time, so the second run is a replaced server for the stack's
 * state, and must converge with one `pulumi up` like the first.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import { ROOT } from "../host/harness";

function npmRun(script: string): { code: number; output: string; seconds: number } {
  const started = Date.now();
  const run = spawnSync("npm", ["run", "--silent", script], { cwd: ROOT, env: process.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { code: run.status ?? 255, output: `${run.stdout}\n${run.stderr}`, seconds: (Date.now() - started) / 1000 };
}

after(() => {
  npmRun("down:local");
});

test("npm run up:local works when run again: the second run's fresh server serves too", () => {
  for (const round of [1, 2]) {
    const run = npmRun("up:local");
    console.log(`# up:local run ${round}: ${run.seconds.toFixed(1)} s`);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /health http:\/\/127\.0\.0\.1:17802\/api\/schema\/info on the server: HTTP 200/, run.output);
  }
});
