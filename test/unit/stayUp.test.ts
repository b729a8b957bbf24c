/**
 * Staying up after the switch, without a server: the watch window's settings reach the
 * activation, the shared health function reacts to a replaced process within a second (stubbed
 * systemctl and curl), every step carries the layout id, and a changed identity setting is
 * refused in the first SSH session, before the fetch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseStackConfig } from "../../config/load";
import { inspectServer } from "../../components/inspect/deployFacts";
import { parseRecord, recordOf, recordProblems, renderRecord } from "../../components/inspect/stackIdentity";
import { REMOTE_DIR } from "../../components/steps/commands";
import { buildStack, remoteStep } from "./mocks";
import { FACTS, fakeSession, rawConfig, SECRET_SECTIONS } from "./fixtures";

test("app.stableSeconds: 120 s for production, 0 for development, and it reaches both activations", async () => {
  assert.equal(parseStackConfig("production", rawConfig(), SECRET_SECTIONS).config.app.stableSeconds, 120);
  assert.equal(parseStackConfig("development", rawConfig(), SECRET_SECTIONS).config.app.stableSeconds, 0);
  const blueGreen = remoteStep(await buildStack("production", { app: { stableSeconds: 45 } }, FACTS, "window-bg"), "window-bg-service-activate");
  assert.match(blueGreen.create, /^STABLE_SECONDS=45$/m);
  assert.match(blueGreen.create, /^  watch_color "\$\{next\}" \|\| revert /m);
  const restart = remoteStep(await buildStack("development", { app: { stableSeconds: 7 } }, FACTS, "window-rs"), "window-rs-service-activate");
  assert.match(restart.create, /^STABLE_SECONDS=7$/m);
  assert.match(restart.create, /watch_stable "\$\{STABLE_SECONDS\}"/);
});

/** Run watch_stable from lib/health.sh with systemctl and curl replaced by shell functions. */
function watch(stubs: string, seconds: number): { code: number; failure: string; ms: number } {
  const script = [
    "set -euo pipefail",
    fs.readFileSync(path.join(REMOTE_DIR, "lib.sh"), "utf8"),
    fs.readFileSync(path.join(REMOTE_DIR, "lib/health.sh"), "utf8"),
    "STARTED=${EPOCHREALTIME/./}",
    "elapsed_ms() { echo $(((${EPOCHREALTIME/./} - STARTED) / 1000)); }",
    stubs,
    `code=0; watch_stable ${seconds} http://localhost/api/schema/info "" app.service || code=$?`,
    'printf "%s\\n%s\\n" "${code}" "${HEALTH_FAILURE}"',
  ].join("\n");
  const started = Date.now();
  const [code, failure] = execFileSync("bash", ["-c", script]).toString().split("\n").slice(-3);
  return { code: Number(code), failure, ms: Date.now() - started };
}

test("watch_stable: a process replaced inside the window fails it within a second, saying how it ended", () => {
  const result = watch(
    `systemctl() {
       case "$*" in
         *MainPID,NRestarts*) if (($(elapsed_ms) < 300)); then printf 'MainPID=100\\nNRestarts=0\\n'; else printf 'MainPID=0\\nNRestarts=0\\n'; fi ;;
         *ActiveState,SubState*) if (($(elapsed_ms) < 300)); then printf 'active\\nrunning\\n'; else printf 'activating\\nauto-restart\\n'; fi ;;
         *ExecMainCode*) echo 1 ;;
         *ExecMainStatus*) echo 3 ;;
         *Result*) echo exit-code ;;
       esac
     }
     curl() { return 0; }`,
    30,
  );
  assert.equal(result.code, 1);
  assert.match(result.failure, /^app\.service exited with status 3 0s into the 30s watch window \(at \d\d:\d\d:\d\dZ\)$/);
  assert.ok(result.ms < 1500, `seen after ${result.ms} ms`);
});

test("watch_stable: probes failing three times in a row fail the window; one slow probe does not; a healthy release passes it", () => {
  const steady = `systemctl() { case "$*" in *MainPID,NRestarts*) printf 'MainPID=100\\nNRestarts=0\\n' ;; *) printf 'active\\nrunning\\n' ;; esac; }`;
  const failing = watch(`${steady}\ncurl() { (($(elapsed_ms) < 1200)); }`, 30);
  assert.equal(failing.code, 1);
  assert.match(failing.failure, /^the health probe http:\/\/localhost\/api\/schema\/info failed 3 times in a row, the last [3-6]s into the 30s watch window/);
  const slowOnce = watch(`${steady}\ncurl() { local t; t=$(elapsed_ms); ((t < 900 || t > 1600)); }`, 4);
  assert.deepEqual([slowOnce.code, slowOnce.failure], [0, ""], "one failed probe among answers keeps the release");
  const hangsAtTheEnd = watch(`${steady}\ncurl() { (($(elapsed_ms) < 900)); }`, 2);
  assert.equal(hangsAtTheEnd.code, 1, "a window whose last probes fail goes on until the run is long enough");
  const healthy = watch(`${steady}\ncurl() { return 0; }`, 1);
  assert.deepEqual([healthy.code, healthy.failure], [0, ""]);
  assert.deepEqual([watch(`${steady}\ncurl() { return 1; }`, 0).code], [0], "no window: nothing to watch");
});

test("every step's create script carries the layout id; a new id changes every step in place, never a name", async () => {
  const before = await buildStack("production", {}, FACTS, "layout");
  const after = await buildStack("production", {}, { ...FACTS, layoutId: "5555555555555555" }, "layout-new");
  const creates = [...before.values()].filter((r) => r.inputs.create);
  assert.ok(creates.length >= 15, `${creates.length} steps`);
  for (const resource of creates) {
    assert.match(remoteStep(before, resource.name).create, /^LAYOUT_ID=4444444444444444$/m, resource.name);
    const twin = after.get(resource.name.replace(/^layout-/, "layout-new-"))!;
    assert.equal(twin.type, resource.type, resource.name);
    assert.match(remoteStep(after, twin.name).create, /^LAYOUT_ID=5555555555555555$/m, twin.name);
  }
});

test("an identity setting changed on a deployed stack is refused, naming the setting, the old value and the safe procedure", () => {
  const { environment, config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  const wanted = recordOf(environment, config);
  const deployed = new Map([["production", parseRecord(renderRecord(wanted))]]);
  assert.deepEqual(recordProblems("production", "10.0.0.2", wanted, deployed), []);
  assert.deepEqual(recordProblems("production", "10.0.0.2", wanted, new Map()), [], "no record: a first deploy");
  const moved = parseStackConfig("production", rawConfig({ app: { installDir: "/srv/ai4artsed" } }), SECRET_SECTIONS);
  const [problem, ...rest] = recordProblems("production", "10.0.0.2", recordOf(moved.environment, moved.config), deployed);
  assert.equal(rest.length, 0);
  assert.match(problem, /^ai4artsed:app\.installDir: is "\/srv\/ai4artsed", but this stack is deployed on 10\.0\.0\.2 with "\/opt\/ai4artsed-production"/);
  assert.match(problem, /set it back with 'pulumi config set --path app\.installDir \/opt\/ai4artsed-production -s production'/);
  assert.match(problem, /'pulumi destroy -s production' \(stops the app; keeps shared\/.*move \/opt\/ai4artsed-production\/shared to the new directory/);
  const providers = recordProblems("production", "10.0.0.2", { ...wanted, providers: "builtin" }, deployed);
  assert.match(providers[0], /^ai4artsed:providers: is "builtin".*replace every step/);
  const ported = recordProblems("production", "10.0.0.2", { ...wanted, "app.port": "17900" }, deployed);
  assert.deepEqual(ported, [], "the port changes in place on the stack itself");
});

test("an install dir, unit name or port another stack's record claims is refused, naming the stack and the way out", () => {
  const development = parseStackConfig("development", rawConfig({ app: { installDir: "/opt/ai4artsed-production", port: 17801 } }), SECRET_SECTIONS);
  const production = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  const records = new Map([["production", parseRecord(renderRecord(recordOf(production.environment, production.config)))]]);
  assert.deepEqual(recordProblems("production", "10.0.0.2", recordOf(production.environment, production.config), records), [], "its own record claims nothing");
  const [problem, ...rest] = recordProblems("development", "10.0.0.2", recordOf(development.environment, development.config), records);
  assert.match(problem, /^ai4artsed:app\.installDir: "\/opt\/ai4artsed-production" belongs to stack 'production' on 10\.0\.0\.2 \(\/etc\/ai4artsed\/production\.stack\).*pulumi destroy -s production/);
  assert.match(rest[0], /^ai4artsed:app\.port: "17801" belongs to stack 'production'/);
  assert.equal(rest.length, 1);
});

test("the stacks' records are read first in the program-time session; a refusal is a config error and nothing else is sent", async () => {
  const { environment, config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  const record = "environment=production\nproviders=plugins\napp.installDir=/opt/elsewhere\napp.serviceName=ai4artsed-production\napp.serviceUser=ai4artsed-production\napp.port=17801\n";
  const { open, commands } = fakeSession(() => ({ code: 0, stdout: `@@ stack:production\n${record}@@ stack:development\nenvironment=development\n`, stderr: "" }));
  await assert.rejects(inspectServer("production", environment, config, [17801], { open }), (err: Error) => {
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /nothing was changed on the server/);
    assert.match(err.message, /ai4artsed:app\.installDir: is "\/opt\/ai4artsed-production", but this stack is deployed on 10\.0\.0\.2 with "\/opt\/elsewhere"/);
    return true;
  });
  assert.equal(commands.length, 1, "only the records were read");
  assert.match(commands[0], /# ai4artsed stack-identity\n/);
});

test("pulumi up takes the stack's deploy lock before anything else; a lock held by another up is refused naming who holds it", async () => {
  const { environment, config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  const { open, commands } = fakeSession(() => ({ code: 3, stdout: "@@ deploy-lock\nholder=alice@laptop\nsince=2026-12-05T10:00:00Z\n", stderr: "" }));
  await assert.rejects(inspectServer("production", environment, config, [17801], { open, deployLockHolder: "bob@desk" }), (err: Error) => {
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /another 'pulumi up' of stack 'production' is deploying to 10\.0\.0\.2 \(since 2026-12-05T10:00:00Z, by alice@laptop\)/);
    return true;
  });
  assert.equal(commands.length, 1);
  assert.match(commands[0], /# ai4artsed deploy-lock\n/);
  assert.match(commands[0], /HOLDER=bob@desk/);
});
