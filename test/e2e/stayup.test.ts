/**
 * Staying up after the switch, through the real engine: a release that dies inside the watch
 * window fails `pulumi up` and the previous release serves; a setting that would tear the
 * environment down is refused before anything on the server changes; a server that lost its
 * layout, or was replaced by a fresh machine, converges with one `pulumi up`.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { headOf, mutate, publishRepo, SERVER_REPO, shOk, startTestBed, startTestServer, stopTestServer, TestServer, waitFor } from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";

const NAME = `ai4u${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
let server: TestServer;
let repo: string;
let ws: PulumiWorkspace;

async function health(): Promise<string> {
  return shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17801/api/schema/info || true");
}

/** Every path, type, size, mtime and link target below what a deploy writes: equal means nothing was touched. */
async function serverFiles(): Promise<string> {
  return shOk(server, "find /opt /etc/ai4artsed /etc/systemd/system /etc/ufw /run/ai4artsed -xdev -printf '%p %y %s %T@ %l\\n' 2>/dev/null | LC_ALL=C sort | sha256sum");
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
  ws = new PulumiWorkspace("production");
  ws.init(server, SERVER_REPO, "production");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await health(), "200");
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
});

test("1. a release that dies inside the watch window fails up with what failed, when, and what serves; a fix deploys", async () => {
  const good = headOf(repo, "main");
  const bad = mutate(repo, "main", "die-after-5");
  await publishRepo(server, repo);
  ws.set("app.stableSeconds", "20");
  const failed = ws.run(["up", "--yes", "--skip-preview"]);
  console.log(`# up of a release that dies 5 s after start, 20 s window: failed after ${failed.seconds.toFixed(1)} s`);
  const text = failed.stdout + failed.stderr;
  assert.notEqual(failed.code, 0);
  assert.match(text, /ai4artsed-production@(blue|green)\.service exited with status 3 \d+s into the 20s watch window \(at \d\d:\d\d:\d\dZ\)/);
  assert.match(text, new RegExp(`deploy of ${bad} reverted \\(.*\\); ${good} serves again on ai4artsed-production@(blue|green)\\.service`));
  assert.equal(await health(), "200");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${good}`);
  assert.equal(ws.outputs().revision, good, "the stack still names the serving commit");
  assert.match(await shOk(server, `tail -n 2 ${PROD}/revisions.log`), new RegExp(`${bad}\treverted: `));
  const fixed = mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  ws.set("app.stableSeconds", "3");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(ws.outputs().revision, fixed);
  assert.equal(await health(), "200");
});

test("2. a setting that would tear the environment down is refused before anything on the server changes", async () => {
  // The last deploy's old color drains in the background and removes its socket when done: wait, so only this test's commands could change the server.
  await shOk(server, "for i in $(seq 1 600); do systemctl list-units --all --state=active --no-legend 'ai4artsed-production-drain-*' | grep -q . || exit 0; sleep 0.5; done; exit 1");
  const before = await serverFiles();
  const cases: Array<[string, string, string]> = [
    ["app.installDir", "/opt/ai4artsed-elsewhere", "/opt/ai4artsed-production"],
    ["app.serviceName", "ai4artsed-renamed", "ai4artsed-production"],
    ["app.serviceUser", "ai4artsed-other", "ai4artsed-production"],
    ["providers", "plugins", "builtin"],
    ["environment", "development", "production"],
  ];
  for (const [key, value, was] of cases) {
    if (key === "providers" || key === "environment") ws.ok(["config", "set", key, value]);
    else ws.set(key, value);
    // `up` runs the same program-time check as `preview`; one setting is enough to show it.
    for (const command of key === "app.installDir" ? [["preview"], ["up", "--yes", "--skip-preview"]] : [["preview"]]) {
      const refused = ws.run(command);
      const text = refused.stdout + refused.stderr;
      assert.notEqual(refused.code, 0, `${key} ${command[0]}`);
      assert.match(text, new RegExp(`ai4artsed:${key.replace(".", "\\.")}: is "${value}", but this stack is deployed on \\S+ with "${was}"`), text);
      assert.match(text, /pulumi destroy -s production/, "the message names the safe procedure");
      assert.match(text, /nothing was changed on the server/);
      console.log(`# refused ${key} change: ${command[0]} failed after ${refused.seconds.toFixed(1)} s`);
    }
    if (key === "providers" || key === "environment") ws.ok(["config", "set", key, was]);
    else ws.ok(["config", "rm", "--path", key]);
  }
  assert.equal(await serverFiles(), before, "nothing on the server changed");
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test("3. a wiped install dir comes back with one up, a new commit included", async () => {
  await shOk(server, `curl -sf -X POST --data pupil-work 'http://127.0.0.1:17801/api/export?name=keep.txt'`);
  await shOk(server, `cp -a ${PROD}/shared /root/shared.saved && rm -rf ${PROD} && mkdir ${PROD} && mv /root/shared.saved ${PROD}/shared`);
  const next = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  const preview = ws.ok(["preview"]);
  assert.doesNotMatch(preview.stdout, /to delete|to replace/, preview.stdout);
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# up after the install dir was wiped: ${up.seconds.toFixed(1)} s`);
  assert.equal(ws.outputs().revision, next);
  assert.equal(await health(), "200");
  assert.equal(await shOk(server, "curl -sf http://127.0.0.1:17801/api/export/keep.txt"), "pupil-work", "what survived in shared/ is served");
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test("4. a server replaced by a fresh machine converges with one up; preview says so first and is clean after", async () => {
  stopTestServer(NAME);
  server = startTestServer(NAME);
  await publishRepo(server, repo);
  // The new machine: its address, its host key, and (as a new test server) its own login key.
  ws.set("server.address", server.host);
  ws.set("server.hostKey", server.hostKey!);
  ws.set("server.privateKey", server.privateKey, true);
  const preview = ws.ok(["preview", "--diff"]);
  const updates = (preview.stdout.match(/^\s+~ \S+/gm) ?? []).length;
  console.log(`# preview against the fresh server: ${updates} updates`);
  assert.ok(updates >= 15, `preview shows every step running again:\n${preview.stdout}`);
  assert.doesNotMatch(preview.stdout, /to delete|to replace/, "every step runs again in place: no delete reaches the new machine");
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  console.log(`# up against the fresh server: ${up.seconds.toFixed(1)} s`);
  assert.equal(await health(), "200");
  assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${headOf(repo, "main")}`);
  assert.equal(await shOk(server, "systemctl is-active ai4artsed-production-proxy.service ai4artsed-production-health.timer | sort -u"), "active");
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test("5. a pulumi up killed inside the watch window: the server finishes the deploy, a second operator's up meanwhile is refused, the next preview says how it ended and up converges", async () => {
  const commit = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  ws.set("app.stableSeconds", "20");
  const run = ws.start(["up", "--yes", "--skip-preview"]);
  await waitFor(
    "the activation in its watch window",
    () => shOk(server, `systemctl is-active ai4artsed-production-activate.service || true; readlink ${PROD}/current`),
    (out) => out === `active\n${PROD}/releases/${commit}`,
    300,
  );
  // Another operator: another checkout, with a state of its own, deploys the same stack meanwhile.
  const other = new PulumiWorkspace("production");
  try {
    other.init(server, SERVER_REPO, "production");
    const refused = other.run(["up", "--yes", "--skip-preview"]);
    assert.notEqual(refused.code, 0, "two deploys of one stack at once");
    assert.match(refused.stdout + refused.stderr, /another 'pulumi up' of stack 'production' is deploying to \S+ \(since \S+, by \S+@\S+\); two deploys of one stack never run at once, so nothing was sent/);
  } finally {
    other.remove();
  }
  run.kill();
  await run.done;
  await waitFor("the activation to end", () => shOk(server, "systemctl is-active ai4artsed-production-activate.service || true"), (s) => s !== "active", 120);
  assert.match(await shOk(server, `tail -n 1 ${PROD}/revisions.log`), new RegExp(`${commit}\tok \\((blue|green)\\)`), "the server kept the release");
  assert.equal(await health(), "200");
  // The runbook's procedure after a lost CLI: preview tells how the deploy ended; up is refused by the
  // engine's lock the killed CLI left in this checkout's state, which `pulumi cancel` removes.
  const preview = ws.run(["preview"]);
  console.log(`# preview after the killed up:\n${(preview.stdout + preview.stderr).split("\n").filter((l) => /warning|error|lost/.test(l)).join("\n")}`);
  assert.equal(preview.code, 0, preview.stdout + preview.stderr);
  assert.match(preview.stdout + preview.stderr, new RegExp(`the last 'pulumi up' lost its connection before the server finished: the activation of ${commit} .*kept: ${commit} serves on ai4artsed-production@(blue|green)\\.service`));
  ws.set("app.stableSeconds", "3");
  const locked = ws.run(["up", "--yes", "--skip-preview"]);
  assert.notEqual(locked.code, 0);
  assert.match(locked.stdout + locked.stderr, /the stack is currently locked by 1 lock\(s\)/);
  ws.ok(["cancel", "--yes"]);
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  assert.match(up.stdout, /Attempting to deploy or update resources with 1 pending operations from previous deployment/, "the engine says its last update was cut");
  // The activation ran again, on the server, and found the release the server kept.
  assert.match(await shOk(server, `cat ${PROD}/activation/output`), new RegExp(`${commit} already serving and healthy on ai4artsed-production@(blue|green)\\.service; nothing to do`));
  assert.equal(ws.outputs().revision, commit);
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.doesNotMatch(clean.stdout + clean.stderr, /lost its connection/, "told once, by the up that followed");
});
