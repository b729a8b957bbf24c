/**
 * The host's monitoring (host.monitoring) without a server: its settings, the files it renders,
 * and its alert rules, run through Debian's promtool (`promtool test rules`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ConfigError, parseStackConfig } from "../../config/load";
import { recordOf, recordProblems, renderRecord, parseRecord } from "../../components/inspect/stackIdentity";
import {
  MONITORING_UNITS,
  monitoringPaths,
  renderAlertmanagerConfig,
  renderAlertRules,
  renderDropIn,
  renderOverview,
  renderPrometheusConfig,
  renderRelayService,
} from "../../components/operations/monitoring";
import { renderScript } from "../../components/steps/commands";
import { rawConfig, SECRET_SECTIONS } from "./fixtures";

const ROOT = path.join(__dirname, "..", "..");
/** Debian's promtool, unpacked into the cache (tools/promtool/ensure-promtool.sh); the test fails without it. */
const PROMTOOL = execFileSync("bash", [path.join(ROOT, "tools", "promtool", "ensure-promtool.sh")], { encoding: "utf8" }).trim();

const THRESHOLDS = { downForSeconds: 120, diskFullPercent: 90, errorRatePercent: 5, gpuMemoryFullPercent: 95, backupMaxAgeHours: 48 };
const SETTINGS = { retentionTime: "14d", retentionSize: "1GB", scrapeIntervalSeconds: 15, diskFullPercent: 90, probes: {}, proxies: {} };

function promtool(dir: string, ...args: string[]): { code: number; out: string } {
  const run = spawnSync(PROMTOOL, args, { cwd: dir, encoding: "utf8" });
  return { code: run.status ?? 1, out: `${run.stdout}${run.stderr}` };
}

test("host.monitoring is off by default; on, it probes both environments: this stack's from its app settings, the other's defaults", () => {
  const off = parseStackConfig("production", rawConfig(), SECRET_SECTIONS).config;
  assert.equal(off.host.monitoring.enabled, false);
  const { config } = parseStackConfig("development", rawConfig({ app: { port: 18002, healthPath: "/health" }, host: { monitoring: { enabled: true } } }), SECRET_SECTIONS);
  assert.deepEqual(config.host.monitoring.probes, { production: "http://127.0.0.1:17801/api/schema/info", development: "http://127.0.0.1:18002/health" });
  assert.equal(config.host.monitoring.retentionTime, "14d");
  assert.equal(config.host.monitoring.retentionSize, "1GB");
  const set = parseStackConfig("development", rawConfig({ host: { monitoring: { enabled: true, probes: { production: "http://127.0.0.1:18801/api/health" } } } }), SECRET_SECTIONS).config;
  assert.equal(set.host.monitoring.probes.production, "http://127.0.0.1:18801/api/health");
  // Proxies: production's default is blue-green (its proxy's metrics port), development's default restart (none).
  assert.deepEqual(config.host.monitoring.proxies, { production: "127.0.0.1:17811" });
  const blueGreenDev = parseStackConfig("development", rawConfig({ app: { deployStrategy: "blue-green", proxyMetricsPort: 18012 }, host: { monitoring: { enabled: true, proxies: { production: "none" } } } }), SECRET_SECTIONS).config;
  assert.deepEqual(blueGreenDev.host.monitoring.proxies, { development: "127.0.0.1:18012" });
});

test("app.proxyMetricsPort follows app.port unless set, and must be a port of its own", () => {
  assert.equal(parseStackConfig("production", rawConfig({ app: { port: 18801 } }), SECRET_SECTIONS).config.app.proxyMetricsPort, 18811);
  assert.throws(
    () => parseStackConfig("production", rawConfig({ app: { proxyMetricsPort: 17803 } }), SECRET_SECTIONS),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.problems.some((p) => p.startsWith("ai4artsed:app.proxyMetricsPort") && /must differ from app\.hostLoopbackPorts \(17803\).*set a free port/.test(p)), err.problems.join("\n"));
      return true;
    },
  );
});

for (const [title, monitoring, key] of [
  ["a retention without a unit", { retentionTime: "14" }, "host.monitoring.retentionTime"],
  ["a size Prometheus does not read", { retentionSize: "1G" }, "host.monitoring.retentionSize"],
  ["a probe off this host", { probes: { production: "https://lab.example.org/" } }, "host.monitoring.probes.production"],
  ["a probe of no environment", { probes: { staging: "http://127.0.0.1:1/" } }, "host.monitoring.probes"],
  ["a proxy off this host", { proxies: { production: "10.0.0.1:17811" } }, "host.monitoring.proxies.production"],
] as const) {
  test(`host.monitoring refuses ${title}, naming the setting and the fix`, () => {
    assert.throws(
      () => parseStackConfig("development", rawConfig({ host: { monitoring: { enabled: true, ...monitoring } } }), SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const line = err.problems.find((p) => p.startsWith(`ai4artsed:${key}`));
        assert.ok(line, err.message);
        assert.match(line!, /pulumi config (set|rm) --path host\.monitoring/);
        return true;
      },
    );
  });
}

test("one stack per host runs the monitoring: a second one is refused before anything is sent, naming both ways out", () => {
  const on = parseStackConfig("production", rawConfig({ host: { monitoring: { enabled: true } } }), SECRET_SECTIONS).config;
  const dev = parseStackConfig("development", rawConfig({ host: { monitoring: { enabled: true } } }), SECRET_SECTIONS).config;
  const devOff = parseStackConfig("development", rawConfig(), SECRET_SECTIONS).config;
  const records = new Map([["production", parseRecord(renderRecord(recordOf("production", on)))]]);
  const [problem, ...rest] = recordProblems("development", "10.0.0.2", recordOf("development", dev), records);
  assert.equal(rest.length, 0);
  assert.match(problem, /^ai4artsed:host\.monitoring\.enabled: stack 'production' runs the monitoring on 10\.0\.0\.2/);
  assert.match(problem, /pulumi config set --path host\.monitoring\.enabled false -s development/);
  assert.deepEqual(recordProblems("development", "10.0.0.2", recordOf("development", devOff), records), []);
  // A stack without the monitoring keeps the record it had: no new line, no changed step.
  assert.doesNotMatch(renderRecord(recordOf("development", devOff)), /monitoring/);
});

test("every part listens on 127.0.0.1 only, on this program's files; Alertmanager sends through the relay", () => {
  const settings = SETTINGS;
  for (const unit of MONITORING_UNITS) {
    const dropIn = renderDropIn(unit, settings);
    assert.match(dropIn, /^ExecStart=$/m, `${unit}: Debian's command line is replaced`);
    assert.match(dropIn, /--web\.listen-address=127\.0\.0\.1:\d+/, unit);
    assert.doesNotMatch(dropIn, /0\.0\.0\.0/, unit);
  }
  assert.match(renderDropIn("prometheus", settings), /--storage\.tsdb\.retention\.time=14d --storage\.tsdb\.retention\.size=1GB/);
  assert.match(renderDropIn("prometheus-alertmanager", settings), /--cluster\.listen-address= /);
  // The classic UI's pages get the UMD build of Debian's popper.js, not its ES module.
  assert.match(renderDropIn("prometheus", settings), /^BindReadOnlyPaths=-\/usr\/share\/javascript\/popper\.js\/umd\/popper\.min\.js:\/usr\/share\/javascript\/popper\.js\/popper\.min\.js$/m);
  assert.match(renderAlertmanagerConfig(24, true), /url: "http:\/\/127\.0\.0\.1:9095\/"\n\s+send_resolved: true/);
  assert.match(renderAlertmanagerConfig(24, true), /repeat_interval: 1440m/);
  assert.match(renderAlertmanagerConfig(0, true), /repeat_interval: 8760h/);
  assert.doesNotMatch(renderAlertmanagerConfig(24, false), /webhook_configs/);
  assert.match(renderRelayService(), /^LoadCredential=webhook:\/etc\/ai4artsed\/monitoring\/webhook-url$/m);
  assert.match(renderRelayService(), /^DynamicUser=yes$/m);
});

test("promtool accepts the Prometheus config and its rules", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-"));
  const paths = monitoringPaths(dir);
  fs.mkdirSync(paths.dir);
  const probes = { production: "http://127.0.0.1:17801/api/schema/info?x=1&y=2", development: "http://127.0.0.1:17802/api/schema/info" };
  fs.writeFileSync(paths.prometheusConfig, renderPrometheusConfig({ ...SETTINGS, probes, proxies: { production: "127.0.0.1:17811" } }, paths));
  fs.writeFileSync(paths.rules, renderAlertRules(THRESHOLDS));
  const checked = promtool(dir, "check", "config", paths.prometheusConfig);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, /SUCCESS: 10 rules found/);
  // The proxy's exporter without its per-server series, each target named by its environment.
  assert.match(fs.readFileSync(paths.prometheusConfig, "utf8"), /- job_name: proxy\n    params: \{scope: \[global, frontend, backend\]\}\n    static_configs:\n      - targets: \["127\.0\.0\.1:17811"\]\n        labels: \{environment: "production"\}/);
  assert.doesNotMatch(renderPrometheusConfig(SETTINGS, paths), /job_name: proxy/, "no proxy, no job");
  fs.rmSync(dir, { recursive: true });
});

/** One promtool unit test: series over time, the alerts expected at each evaluation. */
const RULE_TESTS = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # Down 2 minutes and more: pending first, then firing, naming the environment; then recovered.
  - interval: 1m
    input_series:
      - series: 'probe_success{job="health",environment="production",instance="http://127.0.0.1:17801/api/schema/info"}'
        values: '1 1 0 0 0 0 0 1 1'
      - series: 'probe_success{job="health",environment="development",instance="http://127.0.0.1:17802/api/schema/info"}'
        values: '1 1 1 1 1 1 1 1 1'
    alert_rule_test:
      - {eval_time: 1m, alertname: EnvironmentDown, exp_alerts: []}
      - {eval_time: 3m, alertname: EnvironmentDown, exp_alerts: []}
      - eval_time: 4m
        alertname: EnvironmentDown
        exp_alerts:
          - exp_labels: {severity: critical, job: health, environment: production, instance: "http://127.0.0.1:17801/api/schema/info"}
            exp_annotations:
              summary: "production is down: http://127.0.0.1:17801/api/schema/info has not answered 2xx for 120s. Check systemctl status and journalctl of ai4artsed-production."
      - {eval_time: 8m, alertname: EnvironmentDown, exp_alerts: []}
  # A unit restarted three times in ten minutes crash-loops; one restart is no loop.
  - interval: 1m
    input_series:
      - series: 'ai4artsed_unit_restarts_total{unit="ai4artsed-production-blue"}'
        values: '0 0 1 1 2 3 3 3'
      - series: 'ai4artsed_unit_restarts_total{unit="ai4artsed-gpu-service"}'
        values: '0 0 1 1 1 1 1 1'
    alert_rule_test:
      - {eval_time: 4m, alertname: CrashLooping, exp_alerts: []}
      - eval_time: 6m
        alertname: CrashLooping
        exp_alerts:
          - exp_labels: {severity: critical, unit: ai4artsed-production-blue}
            exp_annotations:
              summary: "ai4artsed-production-blue crash-loops: systemd restarted it 3 times in 10 minutes. Check journalctl -u ai4artsed-production-blue."
  # A disk over 90% for 5 minutes; tmpfs never counts.
  - interval: 1m
    input_series:
      - series: 'node_filesystem_avail_bytes{mountpoint="/",fstype="ext4"}'
        values: '50 50 5 5 5 5 5 5 5'
      - series: 'node_filesystem_size_bytes{mountpoint="/",fstype="ext4"}'
        values: '100x8'
      - series: 'node_filesystem_avail_bytes{mountpoint="/run",fstype="tmpfs"}'
        values: '1x8'
      - series: 'node_filesystem_size_bytes{mountpoint="/run",fstype="tmpfs"}'
        values: '100x8'
    alert_rule_test:
      - {eval_time: 5m, alertname: DiskAlmostFull, exp_alerts: []}
      - eval_time: 8m
        alertname: DiskAlmostFull
        exp_alerts:
          - exp_labels: {severity: warning, mountpoint: /, fstype: ext4}
            exp_annotations:
              summary: "the disk of / is 95% full. Make room: journalctl --vacuum-size, a lower app.keepReleases."
  # A failed backup at once; a good one older than 48h is stale.
  - interval: 1h
    input_series:
      - series: 'ai4artsed_backup_ok{unit="ai4artsed-production-offsite-backup"}'
        values: '1 1 0 1'
      - series: 'ai4artsed_backup_last_success_timestamp_seconds{unit="ai4artsed-production-offsite-backup"}'
        values: '0x60'
    alert_rule_test:
      - {eval_time: 1h, alertname: BackupFailed, exp_alerts: []}
      - eval_time: 2h
        alertname: BackupFailed
        exp_alerts:
          - exp_labels: {severity: critical, unit: ai4artsed-production-offsite-backup}
            exp_annotations:
              summary: "the last off-host backup (ai4artsed-production-offsite-backup) failed. Check journalctl -u ai4artsed-production-offsite-backup."
      - {eval_time: 3h, alertname: BackupFailed, exp_alerts: []}
      - {eval_time: 47h, alertname: BackupStale, exp_alerts: []}
      - eval_time: 49h
        alertname: BackupStale
        exp_alerts:
          - exp_labels: {severity: critical, unit: ai4artsed-production-offsite-backup}
            exp_annotations:
              summary: "the last good off-host backup (ai4artsed-production-offsite-backup) is 2d 1h 0m 0s old, more than 48h. Check systemctl list-timers ai4artsed-production-offsite-backup."
  # A reverted deploy alerts until a good one follows (the metrics file then drops its series: stale at the next scrape).
  - interval: 1m
    input_series:
      - series: 'ai4artsed_deploy_ok{environment="production",commit="0123456789ab",outcome="reverted"}'
        values: '_ 0 0 stale'
      - series: 'ai4artsed_deploy_ok{environment="production",commit="ba9876543210",outcome="ok"}'
        values: '_ _ _ 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: DeployFailed
        exp_alerts:
          - exp_labels: {severity: warning, environment: production, commit: "0123456789ab", outcome: reverted}
            exp_annotations:
              summary: "the last deploy of production (0123456789ab) reverted; the previous release serves. See revisions.log in its install dir."
      - {eval_time: 4m, alertname: DeployFailed, exp_alerts: []}
  # From 10% of production's requests answered 5xx, over 5% for 2 minutes alerts; development's few errors (under 5 in 5 minutes) do not.
  - interval: 1m
    input_series:
      - series: 'haproxy_frontend_http_responses_total{job="proxy",proxy="app",environment="production",code="2xx"}'
        values: '0+90x12'
      - series: 'haproxy_frontend_http_responses_total{job="proxy",proxy="app",environment="production",code="5xx"}'
        values: '0x4 0+10x8'
      - series: 'haproxy_frontend_http_responses_total{job="proxy",proxy="metrics",environment="production",code="5xx"}'
        values: '0+100x12'
      - series: 'haproxy_frontend_http_responses_total{job="proxy",proxy="app",environment="development",code="2xx"}'
        values: '0+1x12'
      - series: 'haproxy_frontend_http_responses_total{job="proxy",proxy="app",environment="development",code="5xx"}'
        values: '0x4 0+1x3 3x5'
    alert_rule_test:
      - {eval_time: 4m, alertname: ErrorRate, exp_alerts: []}
      - {eval_time: 9m, alertname: ErrorRate, exp_alerts: []}
      - eval_time: 10m
        alertname: ErrorRate
        exp_alerts:
          - exp_labels: {severity: critical, environment: production}
            exp_annotations:
              summary: "production answers 10% of its requests with a server error (5xx). Check journalctl -u ai4artsed-production* for tracebacks."
  # A GPU 97% full for 5 minutes; one nvidia-smi cannot read.
  - interval: 1m
    input_series:
      - series: 'ai4artsed_gpu_memory_used_bytes{gpu="0",name="NVIDIA RTX 6000 Ada Generation"}'
        values: '40 97x8'
      - series: 'ai4artsed_gpu_memory_total_bytes{gpu="0",name="NVIDIA RTX 6000 Ada Generation"}'
        values: '100x8'
      - series: 'ai4artsed_gpu_query_ok'
        values: '1 1 0x7'
    alert_rule_test:
      - {eval_time: 4m, alertname: GpuMemoryFull, exp_alerts: []}
      - eval_time: 7m
        alertname: GpuMemoryFull
        exp_alerts:
          - exp_labels: {severity: warning, gpu: "0", name: "NVIDIA RTX 6000 Ada Generation"}
            exp_annotations:
              summary: "GPU 0 (NVIDIA RTX 6000 Ada Generation) memory is 97% full: generations may fail out of memory. Check nvidia-smi for what holds it."
      - {eval_time: 6m, alertname: GpuUnreadable, exp_alerts: []}
      - eval_time: 7m
        alertname: GpuUnreadable
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "nvidia-smi cannot read the GPUs, so the GPU service cannot use them either (a driver updated without a reboot?). Run nvidia-smi."
`;

test("the alert rules, through promtool: down 2 minutes, crash loops, a full disk, failed and stale backups, a failed deploy, server errors, a full or unreadable GPU", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rules-"));
  fs.writeFileSync(path.join(dir, "rules.yml"), renderAlertRules(THRESHOLDS));
  fs.writeFileSync(path.join(dir, "rules.test.yml"), RULE_TESTS);
  const run = promtool(dir, "test", "rules", "rules.test.yml");
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /SUCCESS/);
  // The threshold follows monitor.alertAfterSeconds: with 30 s the same outage fires a minute earlier.
  fs.writeFileSync(path.join(dir, "rules.yml"), renderAlertRules({ ...THRESHOLDS, downForSeconds: 30 }));
  const early = promtool(dir, "test", "rules", "rules.test.yml");
  assert.notEqual(early.code, 0, "a 30 s threshold fires at 3m, which the 2-minute test expects silent");
  assert.match(early.out, /alertname: EnvironmentDown, time: 3m,[^\n]*\n\s*exp:\[\],/);
  fs.rmSync(dir, { recursive: true });
});

test("the overview page names both environments and links each to its graphs", () => {
  const page = renderOverview({ ...SETTINGS, probes: { production: "u1", development: "u2" }, proxies: { production: "127.0.0.1:17811" } });
  for (const env of ["production", "development"]) {
    assert.match(page, new RegExp(`<tr><td>${env}</td>`));
    assert.match(page, new RegExp(`probe_success\\{job='health',environment='${env}'\\}`));
  }
  assert.match(page, /href="\/classic\/graph\?g0\.expr=/);
  // Requests, errors and response times where a proxy counts them; a template's queries use single quotes.
  assert.match(page, /\{\{ with query "sum\(rate\(haproxy_frontend_http_responses_total\{job='proxy',proxy='app',environment='production'\}\[5m\]\)\)" \}\}/);
  assert.match(page, /<tr><td>development<\/td>[\s\S]*?<td colspan="3">no proxy \(restart strategy\)<\/td>/);
  assert.match(page, /ai4artsed_gpu_memory_used_bytes/);
});

test("the alert relay sends each of Alertmanager's alerts on in the probe's format, and answers 502 while the webhook fails", async () => {
  const received: Array<Record<string, string>> = [];
  let status = 200;
  const webhook = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (status === 200) received.push(JSON.parse(body));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
  const credentials = fs.mkdtempSync(path.join(os.tmpdir(), "relay-"));
  fs.writeFileSync(path.join(credentials, "webhook"), `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hooks/token\n`);
  const port = 20000 + (process.pid % 10000);
  const relay = spawn("python3", [path.join(ROOT, "components", "remote", "alert-relay.py"), String(port)], { env: { ...process.env, CREDENTIALS_DIRECTORY: credentials }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  relay.stderr.on("data", (chunk) => (stderr += chunk));
  try {
    const post = async (payload: object) => {
      for (let i = 0; ; i++) {
        try {
          return (await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: JSON.stringify(payload), headers: { "Content-Type": "application/json" } })).status;
        } catch (err) {
          if (i > 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const payload = {
      version: "4",
      status: "firing",
      alerts: [
        { status: "firing", labels: { alertname: "EnvironmentDown", environment: "production" }, annotations: { summary: "production is down: ..." }, startsAt: "2026-12-05T10:00:00Z", endsAt: "0001-01-01T00:00:00Z" },
        { status: "resolved", labels: { alertname: "CrashLooping", unit: "ai4artsed-gpu-service" }, annotations: { summary: "ai4artsed-gpu-service crash-loops" }, startsAt: "2026-12-05T09:00:00Z", endsAt: "2026-12-05T09:30:00Z" },
      ],
    };
    assert.equal(await post(payload), 200);
    assert.deepEqual(
      received.map(({ text, state, service, at }) => ({ text, state, service, at })),
      [
        { text: "production is down: ...", state: "down", service: "ai4artsed-production", at: "2026-12-05T10:00:00Z" },
        { text: "recovered: ai4artsed-gpu-service crash-loops", state: "recovered", service: "ai4artsed-gpu-service", at: "2026-12-05T09:30:00Z" },
      ],
    );
    assert.equal(received[0].host, os.hostname());
    status = 503;
    assert.equal(await post(payload), 502, "Alertmanager sends again");
    assert.match(stderr, /relaying to the webhook failed: HTTPError/);
    assert.doesNotMatch(stderr, /hooks\/token/, "the URL is a credential");
  } finally {
    relay.kill();
    webhook.close();
    fs.rmSync(credentials, { recursive: true });
  }
});

test("the metrics script: each environment's last deploy outcome (not an extra service's, not a rollback's note), each backup's result", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-"));
  const prod = path.join(dir, "production");
  const dev = path.join(dir, "development");
  fs.mkdirSync(prod);
  fs.mkdirSync(dev);
  fs.writeFileSync(
    path.join(prod, "revisions.log"),
    [
      "2026-12-01T10:00:00Z\troot\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\tok (blue)",
      "2026-12-02T10:00:00Z\troot\tbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\treverted: the health probe failed 3 times in a row",
      "2026-12-02T10:00:01Z\troot\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\tserving again after reverted bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "2026-12-02T10:05:00Z\troot\tai4artsed-gpu-service@cccccccccccccccccccccccccccccccccccccccc\tok",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(dev, "revisions.log"), "2026-12-03T08:00:00Z\tlab\tdddddddddddddddddddddddddddddddddddddddd\tadopted: the hand-made checkout is kept in /opt/x\n");
  fs.writeFileSync(path.join(dir, "ai4artsed-production-offsite-backup.state"), "last_result=failed\nlast_success=1796400000\n");
  const textfile = path.join(dir, "out", "ai4artsed.prom");
  const script = renderScript("monitoring-metrics", { INSTALL_DIRS: `production=${prod} development=${dev}`, STATE_DIR: dir, TEXTFILE: textfile });
  const run = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" } });
  assert.equal(run.status, 0, run.stderr);
  const metrics = fs.readFileSync(textfile, "utf8");
  assert.match(metrics, /^ai4artsed_deploy_ok\{environment="production",commit="bbbbbbbbbbbb",outcome="reverted"\} 0$/m);
  assert.match(metrics, /^ai4artsed_deploy_timestamp_seconds\{environment="production",commit="bbbbbbbbbbbb",outcome="reverted"\} 1796205600$/m);
  assert.match(metrics, /^ai4artsed_deploy_ok\{environment="development",commit="dddddddddddd",outcome="adopted"\} 1$/m);
  assert.match(metrics, /^ai4artsed_backup_ok\{unit="ai4artsed-production-offsite-backup"\} 0$/m);
  assert.match(metrics, /^ai4artsed_backup_last_success_timestamp_seconds\{unit="ai4artsed-production-offsite-backup"\} 1796400000$/m);
  assert.match(metrics, /^ai4artsed_metrics_timestamp_seconds \d+$/m);
  assert.doesNotMatch(metrics, /cccccccccccc/, "an extra service's deploy is not the environment's");
  fs.rmSync(dir, { recursive: true });
});

/**
 * No GPU here: a stand-in `nvidia-smi` answers the script's query as the driver's does (CSV, no
 * header, no units, [N/A] for what a GPU does not report), or fails as it does after a driver
 * update without a reboot.
 */
test("the metrics script: each GPU's memory, load and temperature from nvidia-smi; a failing nvidia-smi; none without the driver", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-metrics-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const textfile = path.join(dir, "ai4artsed.prom");
  const script = renderScript("monitoring-metrics", { INSTALL_DIRS: `production=${dir}/none`, STATE_DIR: dir, TEXTFILE: textfile });
  const metricsWith = (standIn?: string): string => {
    fs.rmSync(path.join(bin, "nvidia-smi"), { force: true });
    if (standIn) fs.writeFileSync(path.join(bin, "nvidia-smi"), `#!/bin/sh\n${standIn}\n`, { mode: 0o755 });
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
    assert.equal(run.status, 0, run.stderr);
    return fs.readFileSync(textfile, "utf8");
  };

  const two = metricsWith(`case "$*" in *--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu*--format=csv,noheader,nounits*) ;; *) exit 2 ;; esac
printf '0, NVIDIA RTX 6000 Ada Generation, 87, 45000, 49140, 71\\n1, Tesla T4, [N/A], 100, 15360, [N/A]\\n'`);
  assert.match(two, /^ai4artsed_gpu_query_ok 1$/m);
  const gpu0 = 'gpu="0",name="NVIDIA RTX 6000 Ada Generation"';
  assert.ok(two.includes(`ai4artsed_gpu_utilization_ratio{${gpu0}} 0.87\n`), two);
  assert.ok(two.includes(`ai4artsed_gpu_memory_used_bytes{${gpu0}} ${45000 * 1048576}\n`), two);
  assert.ok(two.includes(`ai4artsed_gpu_memory_total_bytes{${gpu0}} ${49140 * 1048576}\n`), two);
  assert.ok(two.includes(`ai4artsed_gpu_temperature_celsius{${gpu0}} 71\n`), two);
  assert.ok(two.includes(`ai4artsed_gpu_memory_used_bytes{gpu="1",name="Tesla T4"} ${100 * 1048576}\n`), two);
  assert.doesNotMatch(two, /gpu="1"[^\n]*(utilization|temperature)|N\/A/, "what a GPU does not report gives no figure");

  const failing = metricsWith(`echo "Failed to initialize NVML: Driver/library version mismatch"; exit 18`);
  assert.match(failing, /^ai4artsed_gpu_query_ok 0$/m);
  assert.doesNotMatch(failing, /^ai4artsed_gpu_memory_used_bytes\{/m);
  assert.match(failing, /^ai4artsed_metrics_timestamp_seconds \d+$/m, "the other figures are still written");

  const none = metricsWith();
  assert.doesNotMatch(none, /^ai4artsed_gpu_(query_ok|memory_used_bytes)/m);
  fs.rmSync(dir, { recursive: true });
});
