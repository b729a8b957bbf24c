/** Issue 8 (operations) under mocks: pre-deploy test command, health monitor, adoption steps, and their config. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { ConfigError, parseStackConfig, RawConfig } from "../../config/load";
import { stateSummary } from "../../components/providers/drift";
import { ALERT_IDENTIFIER, renderProbeService, renderProbeTimer } from "../../components/operations/monitor";
import { buildStack, remoteStep } from "./mocks";
import { FACTS, rawConfig, SECRET_SECTIONS } from "./fixtures";

const WEBHOOK = "https://hooks.example.org/services/T000/B000/very-secret-token";



test("config defaults: no test command, monitor on with the seed's 300 s / 120 s, a daily reminder, no webhook", () => {
  const { config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  assert.equal(config.app.testCommand, undefined);
  assert.equal(config.app.testTimeoutSeconds, 600);
  assert.deepEqual(config.monitor, { enabled: true, intervalSeconds: 300, alertAfterSeconds: 120, remindEveryHours: 24 });
  const set = parseStackConfig(
    "development",
    rawConfig({ app: { testCommand: "pytest devserver/tests" }, monitor: { enabled: "false", intervalSeconds: "60", remindEveryHours: "0.5", webhookUrl: WEBHOOK } }),
    SECRET_SECTIONS,
  ).config;
  assert.equal(set.app.testCommand, "pytest devserver/tests");
  assert.deepEqual(set.monitor, { enabled: false, intervalSeconds: 60, alertAfterSeconds: 120, remindEveryHours: 0.5, webhookUrl: WEBHOOK });
});

const INVALID: Array<[string, RawConfig, string, Set<string>?]> = [
  ["test command over two lines", rawConfig({ app: { testCommand: "pytest\nrm -rf /" } }), "ai4artsed:app.testCommand"],
  ["test timeout too short", rawConfig({ app: { testTimeoutSeconds: 1 } }), "ai4artsed:app.testTimeoutSeconds"],
  ["monitor interval zero", rawConfig({ monitor: { intervalSeconds: 0 } }), "ai4artsed:monitor.intervalSeconds"],
  ["alert threshold negative", rawConfig({ monitor: { alertAfterSeconds: -1 } }), "ai4artsed:monitor.alertAfterSeconds"],
  ["reminder interval negative", rawConfig({ monitor: { remindEveryHours: -1 } }), "ai4artsed:monitor.remindEveryHours"],
  ["reminder interval not a number", rawConfig({ monitor: { remindEveryHours: "daily" } }), "ai4artsed:monitor.remindEveryHours"],
  ["monitor enabled not a boolean", rawConfig({ monitor: { enabled: "yes" } }), "ai4artsed:monitor.enabled"],
  ["webhook not http", rawConfig({ monitor: { webhookUrl: "ftp://example.org/x" } }), "ai4artsed:monitor.webhookUrl"],
  ["webhook with a quote", rawConfig({ monitor: { webhookUrl: 'https://example.org/"x' } }), "ai4artsed:monitor.webhookUrl"],
  ["webhook in plain text", rawConfig({ monitor: { webhookUrl: WEBHOOK } }), "ai4artsed:monitor.webhookUrl", new Set(["server"])],
  ["misspelt monitor key", rawConfig({ monitor: { interval: 60 } }), "ai4artsed:monitor.interval"],
];

for (const [title, raw, key, secrets] of INVALID) {
  test(`invalid operations config names its key and a fix: ${title}`, () => {
    assert.throws(
      () => parseStackConfig("production", raw, secrets ?? SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        const line = err.problems.find((p) => p.startsWith(key));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.match(line!, /pulumi config (set|rm)/, line);
        return true;
      },
    );
  });
}

test("release: the test command and its timeout reach release.sh only when set", async () => {
  const without = remoteStep(await buildStack("production", {}, undefined, "notest"), "notest-release-export").create;
  assert.doesNotMatch(without, /\n(TEST_COMMAND|TEST_TIMEOUT_SECONDS)=/);
  const graph = await buildStack("production", { app: { testCommand: "python -m pytest -q devserver/tests", testTimeoutSeconds: 120 } }, undefined, "tested");
  const create = remoteStep(graph, "tested-release-export").create;
  assert.ok(create.includes("\nTEST_COMMAND='python -m pytest -q devserver/tests'\nTEST_TIMEOUT_SECONDS=120\n"), create.slice(0, 600));
});

test("adoption: the host's first step checks installDir with the shared paths; the release's last finishes it", async () => {
  const graph = await buildStack("production", {}, undefined, "adopting");
  const adopt = remoteStep(graph, "adopting-host-adopt").create;
  assert.match(adopt, /^# ai4artsed adopt\n/);
  assert.ok(adopt.includes("\nINSTALL_DIR=/opt/ai4artsed-production\nSHARED_PATHS='exports/\ndevserver/api_keys.json\n"));
  const finish = remoteStep(graph, "adopting-release-adopt").create;
  assert.match(finish, /^# ai4artsed adopt-switch\n/);
  assert.ok(finish.includes("\nINSTALL_DIR=/opt/ai4artsed-production\nSERVICE_USER=ai4artsed-production\nSHARED_PATHS='exports/\n"));
  assert.equal(remoteStep(graph, "adopting-host-adopt").delete, undefined, "adoption is never undone by destroy");
});

test("monitor: probe, oneshot and timer per stack; removal on destroy names only this stack's files", async () => {
  const graph = await buildStack("development", { monitor: { intervalSeconds: 60, alertAfterSeconds: 90 } }, undefined, "mon");
  const probe = remoteStep(graph, "mon-monitor-probe");
  assert.match(probe.create, /\nTARGET_FILE=\/usr\/local\/lib\/ai4artsed\/ai4artsed-development-health-probe\.sh\nFILE_MODE=755\n/);
  assert.match(probe.stdin, /^# ai4artsed health-probe\n/);
  for (const param of [
    "UNIT_NAME=ai4artsed-development.service",
    "HEALTH_URL=http://127.0.0.1:17802/api/schema/info",
    "ALERT_AFTER_SECONDS=90",
    "REMIND_EVERY_SECONDS=86400",
    "STATE_FILE=/var/lib/ai4artsed/ai4artsed-development-health.state",
    "OUTBOX_FILE=/var/lib/ai4artsed/ai4artsed-development-health.outbox",
    "WEBHOOK_FILE=/etc/ai4artsed/ai4artsed-development-health.webhook",
    `ALERT_IDENTIFIER=${ALERT_IDENTIFIER}`,
  ]) {
    assert.ok(probe.stdin.includes(`\n${param}\n`), `probe lacks ${param}`);
  }
  execFileSync("bash", ["-n", "-c", probe.stdin]);
  const service = remoteStep(graph, "mon-monitor-service");
  assert.match(service.create, /TARGET_FILE=\/etc\/systemd\/system\/ai4artsed-development-health\.service\n/);
  assert.match(service.stdin, /\nType=oneshot\nExecStart=\/bin\/bash \/usr\/local\/lib\/ai4artsed\/ai4artsed-development-health-probe\.sh\n/);
  const timer = remoteStep(graph, "mon-monitor-timer");
  assert.match(timer.stdin, /\nOnActiveSec=60s\nOnUnitActiveSec=60s\n/);
  assert.match(timer.create, /ON_CHANGE='systemctl daemon-reload && systemctl enable ai4artsed-development-health\.timer && systemctl restart ai4artsed-development-health\.timer'/);
  assert.equal(graph.get("mon-monitor-webhook"), undefined, "no webhook configured, no webhook file");
  const remove = remoteStep(graph, "mon-monitor-remove");
  assert.equal(remove.create, undefined);
  assert.ok(
    remove.delete.includes(
      "\nTIMER_UNIT=ai4artsed-development-health\n" +
        "UNIT_FILES='/etc/systemd/system/ai4artsed-development-health.service /etc/systemd/system/ai4artsed-development-health.timer'\n" +
        "FILES='/usr/local/lib/ai4artsed/ai4artsed-development-health-probe.sh /etc/ai4artsed/ai4artsed-development-health.webhook /var/lib/ai4artsed/ai4artsed-development-health.state /var/lib/ai4artsed/ai4artsed-development-health.restarts /var/lib/ai4artsed/ai4artsed-development-health.outbox'\n",
    ),
    remove.delete.slice(0, 400),
  );
});

test("monitor on blue-green: the probe finds the serving color itself, so a deploy never rewrites it", async () => {
  const first = remoteStep(await buildStack("production", {}, FACTS, "bgmon"), "bgmon-monitor-probe").stdin;
  const next = remoteStep(await buildStack("production", {}, { ...FACTS, commit: "4".repeat(40) }, "bgmon"), "bgmon-monitor-probe").stdin;
  assert.equal(next, first, "a new commit leaves the probe as it is");
  for (const param of ["UNIT_NAME=ai4artsed-production-proxy.service", "SERVING_LINK=/opt/ai4artsed-production/serving.sock", "APP_TEMPLATE=ai4artsed-production@"]) {
    assert.ok(first.includes(`\n${param}\n`), `probe lacks ${param}`);
  }
  execFileSync("bash", ["-n", "-c", first]);
});

test("monitor drift: the timer's state and files are checked; a repair rewrites them and re-enables the timer", async () => {
  const clean = await buildStack("production", {}, FACTS, "watched");
  const expected = clean.get("watched-monitor-state")!.inputs.expected;
  assert.equal(clean.get("watched-monitor-state")!.inputs.onServer, expected, "unobserved: no drift");
  const probe = remoteStep(clean, "watched-monitor-probe");
  const timer = remoteStep(clean, "watched-monitor-timer");
  assert.equal(expected, stateSummary(`active enabled\n${probe.stdin}${remoteStep(clean, "watched-monitor-service").stdin}${timer.stdin}`.replace(/\n+$/, "")));
  assert.ok(
    timer.create.includes(
      "\nENSURE='{ systemctl is-enabled --quiet ai4artsed-production-health.timer && systemctl is-active --quiet ai4artsed-production-health.timer; } || systemctl enable --now ai4artsed-production-health.timer'\n",
    ),
    timer.create.slice(0, 600),
  );
  const observed = new Map([["current", "/opt/ai4artsed-production/releases/x"], ["monitor", "inactive disabled\nedited"]]);
  const drifted = await buildStack("production", {}, FACTS, "watched", observed);
  assert.equal(drifted.get("watched-monitor-state")!.inputs.onServer, stateSummary("inactive disabled\nedited"));
});

test("monitor: the webhook URL goes on stdin into a 0600 file, never into command or unit text", async () => {
  const graph = await buildStack("production", { monitor: { webhookUrl: WEBHOOK } }, undefined, "hooked");
  const webhook = remoteStep(graph, "hooked-monitor-webhook");
  assert.equal(webhook.stdin, `${WEBHOOK}\n`);
  assert.ok(webhook.secretInputs.has("stdin"), "the webhook URL is a secret");
  assert.match(webhook.create, /\nTARGET_FILE=\/etc\/ai4artsed\/ai4artsed-production-health\.webhook\nFILE_MODE=600\n/);
  assert.match(webhook.delete, /\nTARGET_FILE=\/etc\/ai4artsed\/ai4artsed-production-health\.webhook\n/);
  for (const r of graph.values()) {
    const texts = [r.inputs.create, r.inputs.delete, r.secretInputs.has("stdin") ? undefined : r.inputs.stdin];
    for (const text of texts.filter(Boolean)) assert.ok(!String(text).includes("very-secret-token"), `${r.name} carries the webhook URL in plain text`);
  }
});

test("monitor: disabled registers nothing of it", async () => {
  const graph = await buildStack("production", { monitor: { enabled: false } }, undefined, "quiet");
  assert.deepEqual([...graph.keys()].filter((k) => k.includes("monitor")), []);
});

test("monitor units: the oneshot is never rate-limited and may write only its state directory", () => {
  const spec = { unitName: "ai4artsed-production", probeFile: "/usr/local/lib/ai4artsed/p.sh", intervalSeconds: 300, alertAfterSeconds: 120 };
  const service = renderProbeService(spec);
  for (const line of ["StartLimitIntervalSec=0", "TimeoutStartSec=240", "StateDirectory=ai4artsed", "ProtectSystem=strict", "SyslogIdentifier=ai4artsed-production-health"]) {
    assert.ok(service.split("\n").includes(line), `${line} in\n${service}`);
  }
  const timer = renderProbeTimer(spec);
  for (const line of ["OnActiveSec=300s", "OnUnitActiveSec=300s", "AccuracySec=1s", "WantedBy=timers.target"]) assert.ok(timer.split("\n").includes(line), line);
});
