import { test } from "node:test";
import assert from "node:assert/strict";
import { buildStack, MOCK_SECRET_KEY, Recorded, remoteStep } from "./mocks";
import { FACTS, TEST_HOST_KEY, TEST_PRIVATE_KEY } from "./fixtures";
import { DEPLOY_ORDER, stepsWithCreate } from "../host/harness";
import { APP_SERVICE_TYPE, RESTART_SERVICE_TYPE, strategyAliases } from "../../components/service/deployedService";

const COMMAND = "command:remote:Command";


/** A command's inputs, with create and delete as the scripts they run. */
function command(graph: Map<string, Recorded>, name: string): Record<string, any> {
  const step = remoteStep(graph, name);
  assert.equal(graph.get(name)!.type, COMMAND);
  return step;
}

test("production registers every component with its type token", async () => {
  const graph = await buildStack("production");
  const types = new Map([...graph.values()].map((r) => [r.name, r.type]));
  assert.equal(types.get("production"), "ai4artsed:index:Environment");
  assert.equal(types.get("production-host"), "ai4artsed:host:Host");
  assert.equal(types.get("production-python"), "ai4artsed:python:PythonEnv");
  assert.equal(types.get("production-frontend"), "ai4artsed:frontend:FrontendBuild");
  assert.equal(types.get("production-release"), "ai4artsed:release:Release");
  // Production deploys blue-green by default: the blue-green variant of the service.
  assert.equal(types.get("production-service"), "ai4artsed:service:BlueGreenService");
  assert.equal(types.get("production-service-backup"), "ai4artsed:backup:Backup");
  assert.equal(types.get("production-firewall"), "ai4artsed:firewall:Firewall");
  assert.equal(types.get("production-journald"), "ai4artsed:journald:Journald");
  assert.equal(types.get("production-monitor"), "ai4artsed:monitor:HealthMonitor");
  assert.equal(types.get("production-secret-key"), "random:index/randomPassword:RandomPassword");
  const commands = [...graph.values()].filter((r) => r.type === COMMAND).map((r) => r.name).sort();
  assert.deepEqual(commands, [
    "production-firewall-rules",
    "production-frontend-build",
    "production-host-adopt",
    "production-host-layout",
    "production-host-packages",
    "production-host-sshd",
    "production-journald-dropin",
    "production-monitor-probe",
    "production-monitor-remove",
    "production-monitor-service",
    "production-monitor-timer",
    "production-python-build",
    "production-release-adopt",
    "production-release-export",
    "production-service-activate",
    "production-service-backup-snapshot",
    "production-service-bridge-service",
    "production-service-bridge-socket",
    "production-service-egress-service",
    "production-service-environment",
    "production-service-proxy-config",
    "production-service-proxy-unit",
    "production-service-remove",
    "production-service-unit",
  ]);
});

test("each deploy strategy is its own component under the same name; both alias the other and the former single class", async () => {
  const development = await buildStack("development");
  assert.equal(development.get("development-service")!.type, "ai4artsed:service:RestartService");
  const moved = await buildStack("development", { app: { deployStrategy: "blue-green" } }, FACTS, "moved");
  assert.equal(moved.get("moved-service")!.type, "ai4artsed:service:BlueGreenService");
  const steps = (graph: Map<string, Recorded>, prefix: string) => [...graph.keys()].filter((k) => k.startsWith(`${prefix}-service-`)).map((k) => k.slice(prefix.length));
  // The steps both strategies share keep their names, so a switch updates them in place.
  for (const step of ["-service-activate", "-service-remove", "-service-unit", "-service-environment", "-service-backup"]) {
    assert.ok(steps(development, "development").includes(step) && steps(moved, "moved").includes(step), step);
  }
  assert.deepEqual(strategyAliases(RESTART_SERVICE_TYPE), [{ type: APP_SERVICE_TYPE }, { type: RESTART_SERVICE_TYPE }]);
});

test("every command pins the host key, keys on content not triggers, and needs no AcceptEnv", async () => {
  const graph = await buildStack("production");
  for (const r of graph.values()) {
    if (r.type !== COMMAND) continue;
    assert.equal(r.inputs.connection.hostKey, TEST_HOST_KEY, `${r.name} host key`);
    assert.equal(r.inputs.connection.host, "10.0.0.2");
    assert.match(r.inputs.connection.privateKey, /BEGIN OPENSSH PRIVATE KEY/);
    assert.ok(r.secretInputs.has("connection"), `${r.name}: the connection holds the private key and must be secret`);
    assert.equal(r.inputs.triggers, undefined, `${r.name} must not use triggers`);
    assert.equal(r.inputs.addPreviousOutputInEnv, false);
    assert.ok(r.inputs.create || r.inputs.delete, `${r.name} runs something`);
    for (const text of [r.inputs.create, r.inputs.delete].filter(Boolean)) {
      assert.match(text, /^bash -c /, `${r.name} runs through bash`);
      assert.doesNotMatch(text, new RegExp(MOCK_SECRET_KEY), `${r.name} carries the secret key in its command text`);
    }
  }
});

test("production paths, port, unit and health gate (restart strategy)", async () => {
  const graph = await buildStack("production", { app: { deployStrategy: "restart" } });
  const activate = command(graph, "production-service-activate").create;
  for (const param of [
    "INSTALL_DIR=/opt/ai4artsed-production",
    `COMMIT=${FACTS.commit}`,
    "UNIT_NAME=ai4artsed-production.service",
    "HEALTH_URL=http://127.0.0.1:17801/api/schema/info",
    "HEALTH_TIMEOUT_SECONDS=60",
    "KEEP_RELEASES=5",
  ]) {
    assert.ok(activate.includes(`\n${param}\n`), `activate lacks ${param}`);
  }
  const unit = command(graph, "production-service-unit");
  assert.match(unit.create, /TARGET_FILE=\/etc\/systemd\/system\/ai4artsed-production\.service/);
  assert.match(unit.stdin, /\nExecStart=\/opt\/ai4artsed-production\/current\/venv\/bin\/python server\.py\n/);
  const release = command(graph, "production-release-export").create;
  assert.ok(release.includes(`\nVENV_DIR=/opt/ai4artsed-production/venvs/${FACTS.requirementsBlob}\n`));
  assert.match(release, /\nDIST_DIR=\/opt\/ai4artsed-production\/frontends\/[0-9a-f]{24}\/dist\n/);
  assert.match(release, /\nSHARED_PATHS='exports\/\ndevserver\/api_keys\.json/);
});

test("the EnvironmentFile goes on stdin with the app's variables, mode 0600", async () => {
  const graph = await buildStack("production");
  const env = command(graph, "production-service-environment");
  assert.ok(graph.get("production-service-environment")!.secretInputs.has("stdin"), "EnvironmentFile content is a secret");
  assert.match(env.create, /\nTARGET_FILE=\/etc\/ai4artsed\/ai4artsed-production\.env\nFILE_MODE=600\n/);
  for (const line of ['PORT="17801"', `SECRET_KEY="${MOCK_SECRET_KEY}"`, 'DEBUG="false"', 'LOG_LEVEL="INFO"', 'AI_TOOLS_BASE="/opt"', 'DISABLE_API_CACHE="false"']) {
    assert.ok(env.stdin.split("\n").includes(line), `EnvironmentFile lacks ${line}`);
  }
});

test("a set app.secretKey is the app's SECRET_KEY; the made key stays in the graph, so setting it replaces nothing", async () => {
  const key = "k".repeat(40);
  const graph = await buildStack("production", { app: { secretKey: key } });
  assert.ok(command(graph, "production-service-environment").stdin.split("\n").includes(`SECRET_KEY="${key}"`));
  assert.deepEqual([...graph.keys()].sort(), [...(await buildStack("production")).keys()].sort());
});

test("venv and frontend builds are keyed on their content only, not on the commit", async () => {
  const graph = await buildStack("production");
  const venv = command(graph, "production-python-build").create;
  const frontend = command(graph, "production-frontend-build").create;
  assert.ok(venv.includes(`REQUIREMENTS_BLOB=${FACTS.requirementsBlob}`));
  assert.ok(frontend.includes(`FRONTEND_TREE=${FACTS.frontendTree}`));
  for (const text of [venv, frontend]) assert.ok(!text.includes(FACTS.commit), "a code-only commit would rebuild");
});

test("a code-only commit changes release, backup and activation, and nothing else", async () => {
  const before = await buildStack("production", {}, FACTS, "code-a");
  const after = await buildStack("production", {}, { ...FACTS, commit: "4444444444444444444444444444444444444444" }, "code-b");
  const changed = [...before.values()]
    .filter((r) => r.type === COMMAND)
    .filter((r) => {
      const twin = after.get(r.name.replace(/^code-a/, "code-b"))!;
      const text = (x: Record<string, any>) => JSON.stringify([x.create, x.delete, x.stdin]).replace(/code-[ab]/g, "");
      return text(r.inputs) !== text(twin.inputs);
    })
    .map((r) => r.name.replace(/^code-a-/, ""))
    .sort();
  assert.deepEqual(changed, ["release-export", "service-activate", "service-backup-snapshot"]);
});

test("the same config and commit render the same graph: a no-op up changes nothing", async () => {
  const first = await buildStack("production", {}, FACTS, "same-a");
  const second = await buildStack("production", {}, FACTS, "same-b");
  for (const r of first.values()) {
    const twin = second.get(r.name.replace(/^same-a/, "same-b"))!;
    assert.equal(JSON.stringify(twin.inputs).replace(/same-b/g, ""), JSON.stringify(r.inputs).replace(/same-a/g, ""), r.name);
  }
});

test("firewall: default deny with SSH first; this stack's port denied; removal on destroy only its own", async () => {
  const graph = await buildStack("production");
  const rules = command(graph, "production-firewall-rules");
  assert.match(rules.create, /\nSTACK_TAG=ai4artsed-production\nSSH_PORT=22\nDENY_PORTS=17801\nACTION=apply\n/);
  assert.match(rules.delete, /\nSTACK_TAG=ai4artsed-production\nSSH_PORT=22\nDENY_PORTS=17801\nACTION=remove\n/);
});

test("journald drop-in with the seed's limits, owned by production only", async () => {
  const prod = await buildStack("production");
  const dropin = command(prod, "production-journald-dropin");
  assert.match(dropin.create, /TARGET_FILE=\/etc\/systemd\/journald\.conf\.d\/60-ai4artsed\.conf/);
  assert.match(dropin.stdin, /SystemMaxUse=1G\nSystemKeepFree=2G\nMaxRetentionSec=1month/);
  const dev = await buildStack("development");
  assert.equal(dev.get("development-journald-dropin"), undefined);
});

test("development: its own dir, port, unit, debug settings and firewall tag", async () => {
  const graph = await buildStack("development");
  const activate = command(graph, "development-service-activate").create;
  assert.ok(activate.includes("\nINSTALL_DIR=/opt/ai4artsed-development\n"));
  assert.ok(activate.includes("\nUNIT_NAME=ai4artsed-development.service\n"));
  assert.ok(activate.includes("\nHEALTH_URL=http://127.0.0.1:17802/api/schema/info\n"));
  const env = command(graph, "development-service-environment").stdin.split("\n");
  for (const line of ['PORT="17802"', 'DEBUG="true"', 'LOG_LEVEL="DEBUG"']) assert.ok(env.includes(line), line);
  assert.ok(!env.some((l: string) => l.startsWith("DISABLE_API_CACHE")));
  assert.match(command(graph, "development-firewall-rules").create, /\nSTACK_TAG=ai4artsed-development\nSSH_PORT=22\nDENY_PORTS=17802\n/);
});

test("a port change moves the unit's PORT, the health gate and the firewall rule together", async () => {
  const graph = await buildStack("production", { app: { port: 17811 } }, FACTS, "moved");
  assert.ok(command(graph, "moved-service-environment").stdin.includes('PORT="17811"'));
  assert.ok(command(graph, "moved-service-activate").create.includes("HEALTH_URL=http://127.0.0.1:17811/api/schema/info"));
  assert.match(command(graph, "moved-firewall-rules").create, /DENY_PORTS=17811\n/);
});

test("destroy steps: unit removal, layout removal that keeps shared/ (restart strategy)", async () => {
  const graph = await buildStack("production", { app: { deployStrategy: "restart" } });
  const remove = command(graph, "production-service-remove");
  assert.equal(remove.create, undefined);
  assert.match(remove.delete, /\nUNIT_NAME=ai4artsed-production\.service\nENV_FILE=\/etc\/ai4artsed\/ai4artsed-production\.env\n/);
  assert.match(command(graph, "production-host-layout").delete, /\nINSTALL_DIR=\/opt\/ai4artsed-production\n/);
});

test("the host tests' deploy order names every step a stack without Cloudflare runs, so none is skipped unnoticed", async () => {
  const offsite = { repository: "sftp:ai4artsed-backup@10.0.0.9:/production", password: "mock-restic-password", sshKey: TEST_PRIVATE_KEY, hostKey: TEST_HOST_KEY };
  const variants: Array<[string, "production" | "development", Parameters<typeof buildStack>[1]]> = [
    ["order-everything", "production", { backup: { offsite }, monitor: { webhookUrl: "https://hooks.example.org/x" } }],
    ["order-restart", "production", { app: { deployStrategy: "restart" } }],
    ["order-development", "development", {}],
  ];
  for (const [name, stack, overrides] of variants) {
    const graph = await buildStack(stack, overrides, FACTS, name);
    const missing = stepsWithCreate(graph, name).filter((step) => !(DEPLOY_ORDER as readonly string[]).includes(step));
    assert.deepEqual(missing, [], `${name}: steps missing from DEPLOY_ORDER`);
  }
});
