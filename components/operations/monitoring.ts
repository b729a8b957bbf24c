import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "../host/host";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { installFile } from "../steps/installFile";
import { remoteScript } from "../steps/remoteScript";
import { REMOTE_DIR, renderScript } from "../steps/commands";
import { timerSteps } from "../steps/timerSteps";
import { MANAGED_UNIT_HEADER } from "../render/unitParts";
import { ENV_DIR, unitFileOf } from "../../lib/paths";
import { sha256 } from "../../lib/sha256";
import { MONITOR_STATE_DIR, PROBE_DIR } from "./monitor";

/** Debian's packages; the units have the packages' names. */
export const MONITORING_UNITS = ["prometheus", "prometheus-node-exporter", "prometheus-blackbox-exporter", "prometheus-alertmanager"] as const;
type MonitoringUnit = (typeof MONITORING_UNITS)[number];

/** Every part listens on 127.0.0.1 only, on Debian's ports. */
export const MONITORING_PORTS: Record<MonitoringUnit, number> = {
  prometheus: 9090,
  "prometheus-node-exporter": 9100,
  "prometheus-blackbox-exporter": 9115,
  "prometheus-alertmanager": 9093,
};

export function localUrl(unit: MonitoringUnit): string {
  return `http://127.0.0.1:${MONITORING_PORTS[unit]}`;
}

/** The names the monitoring uses on the server: the files it owns, never a package's own config. */
export function monitoringPaths(envDir: string = ENV_DIR) {
  const dir = `${envDir}/monitoring`;
  const metricsUnit = "ai4artsed-monitoring-metrics";
  return {
    dir,
    prometheusConfig: `${dir}/prometheus.yml`,
    rules: `${dir}/rules.yml`,
    alertmanagerConfig: `${dir}/alertmanager.yml`,
    blackboxConfig: `${dir}/blackbox.yml`,
    consoles: `${dir}/consoles`,
    overview: `${dir}/consoles/ai4artsed.html`,
    /** The webhook URL (a secret), handed to the alert relay as a systemd credential. */
    webhookFile: `${dir}/webhook-url`,
    relayUnit: "ai4artsed-alert-relay",
    relayScript: `${PROBE_DIR}/ai4artsed-alert-relay.py`,
    relayService: unitFileOf("ai4artsed-alert-relay.service"),
    /** What the last apply started the units with: a change restarts them. */
    appliedFile: `${dir}/.applied`,
    dropIn: (unit: MonitoringUnit) => unitFileOf(`${unit}.service.d/ai4artsed.conf`),
    /** Debian's node exporter reads *.prom files here (its textfile collector's default). */
    textfile: "/var/lib/prometheus/node-exporter/ai4artsed.prom",
    metricsUnit,
    metricsScript: `${PROBE_DIR}/${metricsUnit}.sh`,
    metricsService: unitFileOf(`${metricsUnit}.service`),
    metricsTimer: unitFileOf(`${metricsUnit}.timer`),
  };
}
type MonitoringPaths = ReturnType<typeof monitoringPaths>;

/**
 * The units the monitoring runs, and its files (with their steps' names) in the order drift
 * review compares them; the alert relay only with a webhook.
 */
function watched(paths: MonitoringPaths, withWebhook: boolean) {
  const relay = withWebhook ? [{ step: "relay-script", file: paths.relayScript }, { step: "relay-service", file: paths.relayService }] : [];
  return {
    units: [...MONITORING_UNITS, ...(withWebhook ? [paths.relayUnit] : []), `${paths.metricsUnit}.timer`],
    files: [
      { step: "prometheus-config", file: paths.prometheusConfig },
      { step: "rules", file: paths.rules },
      { step: "alertmanager-config", file: paths.alertmanagerConfig },
      { step: "blackbox-config", file: paths.blackboxConfig },
      { step: "overview", file: paths.overview },
      ...MONITORING_UNITS.map((unit) => ({ step: `${unit}-dropin`, file: paths.dropIn(unit) })),
      ...relay,
      { step: "metrics-script", file: paths.metricsScript },
      { step: "metrics-service", file: paths.metricsService },
      // Installed by its timer steps, after the packages.
      { step: "metrics-timer", file: paths.metricsTimer },
    ],
  };
}

/** What observe.sh needs to report the monitoring: its units and files. */
export function monitoringObservationParams(withWebhook: boolean, envDir: string = ENV_DIR): { MONITORING_OBSERVE_UNITS: string; MONITORING_OBSERVE_FILES: string } {
  const { units, files } = watched(monitoringPaths(envDir), withWebhook);
  return { MONITORING_OBSERVE_UNITS: units.join(" "), MONITORING_OBSERVE_FILES: files.map(({ file }) => file).join(" ") };
}

/** Debian's libjs-popper.js, which the classic UI's pages load. */
const DEBIAN_POPPER_DIR = "/usr/share/javascript/popper.js";

/** Where Alertmanager posts its alerts: the relay that sends them on in the probe's format (alert-relay.py). */
export const RELAY_PORT = 9095;

export interface MonitoringSettings {
  readonly retentionTime: string;
  readonly retentionSize: string;
  readonly scrapeIntervalSeconds: number;
  readonly diskFullPercent: number;
  /** The health URL of each environment on the host. */
  readonly probes: Readonly<Record<string, string>>;
  /** Where each environment's proxy serves its metrics (host:port); only environments that run one. */
  readonly proxies: Readonly<Record<string, string>>;
}

/** What the alert rules take from the other settings. */
export interface AlertThresholds {
  /** monitor.alertAfterSeconds: how long an environment is down before it alerts (the seed's 2 minutes). */
  readonly downForSeconds: number;
  readonly diskFullPercent: number;
  /** Of an environment's requests through its proxy, the share answered 5xx that alerts. */
  readonly errorRatePercent: number;
  readonly gpuMemoryFullPercent: number;
  /** backup.offsite.maxAgeHours: a backup older than this is stale. */
  readonly backupMaxAgeHours: number;
}

/** Strings as YAML flow scalars: YAML reads JSON's, so no value needs escaping rules of its own. */
const q = (value: string) => JSON.stringify(value);

export function renderPrometheusConfig(settings: MonitoringSettings, paths: MonitoringPaths = monitoringPaths()): string {
  const at = (unit: MonitoringUnit) => q(`127.0.0.1:${MONITORING_PORTS[unit]}`);
  // One static target per environment, labelled with it.
  const byEnvironment = (targets: Readonly<Record<string, string>>) =>
    Object.entries(targets)
      .map(([environment, target]) => `      - targets: [${q(target)}]\n        labels: {environment: ${q(environment)}}`)
      .join("\n");
  const probes = byEnvironment(settings.probes);
  const proxyTargets = byEnvironment(settings.proxies);
  // haproxy's exporter, without its per-server series (the colors' sockets come and go).
  const proxies = proxyTargets
    ? `  # Each blue-green environment's proxy: requests, errors and response times.
  - job_name: proxy
    params: {scope: [global, frontend, backend]}
    static_configs:
${proxyTargets}
`
    : "";
  return `# Managed by the ai4artsed Pulumi program (host.monitoring).
global:
  scrape_interval: ${settings.scrapeIntervalSeconds}s
  evaluation_interval: ${settings.scrapeIntervalSeconds}s
rule_files:
  - ${q(paths.rules)}
alerting:
  alertmanagers:
    - static_configs:
        - targets: [${at("prometheus-alertmanager")}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: [${at("prometheus")}]}]
  - job_name: alertmanager
    static_configs: [{targets: [${at("prometheus-alertmanager")}]}]
  - job_name: node
    static_configs: [{targets: [${at("prometheus-node-exporter")}]}]
  - job_name: blackbox
    static_configs: [{targets: [${at("prometheus-blackbox-exporter")}]}]
  # Each environment's health path, probed through the blackbox exporter.
  - job_name: health
    metrics_path: /probe
    params: {module: [http_2xx]}
    static_configs:
${probes}
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: ${at("prometheus-blackbox-exporter")}}
${proxies}`;
}

/** The responses of the proxies' front ends (the app's traffic, not the metrics' own), by code class and environment. */
function proxyResponses(filter: { code?: string; environment?: string } = {}): string {
  const labels = [`job="proxy"`, `proxy="app"`, ...(filter.environment ? [`environment="${filter.environment}"`] : []), ...(filter.code ? [`code="${filter.code}"`] : [])];
  return `haproxy_frontend_http_responses_total{${labels.join(",")}}`;
}

export function renderBlackboxConfig(): string {
  return `# Managed by the ai4artsed Pulumi program (host.monitoring).
modules:
  http_2xx:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      no_follow_redirects: true
`;
}

/**
 * The alert rules. Their summaries are what the webhook shows: each names what is wrong and
 * where to look. promtool tests them (test/unit/monitoring.test.ts).
 */
export function renderAlertRules(thresholds: AlertThresholds): string {
  return `# Managed by the ai4artsed Pulumi program (host.monitoring).
groups:
  - name: ai4artsed
    rules:
      - alert: EnvironmentDown
        expr: probe_success{job="health"} == 0
        for: ${thresholds.downForSeconds}s
        labels: {severity: critical}
        annotations:
          summary: '{{ $labels.environment }} is down: {{ $labels.instance }} has not answered 2xx for ${thresholds.downForSeconds}s. Check systemctl status and journalctl of ai4artsed-{{ $labels.environment }}.'
      - alert: ErrorRate
        expr: 100 * sum by (environment) (rate(${proxyResponses({ code: "5xx" })}[5m])) / sum by (environment) (rate(${proxyResponses()}[5m])) > ${thresholds.errorRatePercent} and sum by (environment) (increase(${proxyResponses({ code: "5xx" })}[5m])) >= 5
        for: ${thresholds.downForSeconds}s
        labels: {severity: critical}
        annotations:
          summary: '{{ $labels.environment }} answers {{ $value | printf "%.0f" }}% of its requests with a server error (5xx). Check journalctl -u ai4artsed-{{ $labels.environment }}* for tracebacks.'
      - alert: CrashLooping
        expr: increase(ai4artsed_unit_restarts_total[10m]) >= 3
        labels: {severity: critical}
        annotations:
          summary: '{{ $labels.unit }} crash-loops: systemd restarted it {{ $value | humanize }} times in 10 minutes. Check journalctl -u {{ $labels.unit }}.'
      - alert: DiskAlmostFull
        expr: 100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"} / node_filesystem_size_bytes) > ${thresholds.diskFullPercent}
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: 'the disk of {{ $labels.mountpoint }} is {{ $value | humanize }}% full. Make room: journalctl --vacuum-size, a lower app.keepReleases.'
      - alert: BackupFailed
        expr: ai4artsed_backup_ok == 0
        labels: {severity: critical}
        annotations:
          summary: 'the last off-host backup ({{ $labels.unit }}) failed. Check journalctl -u {{ $labels.unit }}.'
      - alert: BackupStale
        expr: time() - ai4artsed_backup_last_success_timestamp_seconds > ${Math.round(thresholds.backupMaxAgeHours * 3600)}
        labels: {severity: critical}
        annotations:
          summary: 'the last good off-host backup ({{ $labels.unit }}) is {{ $value | humanizeDuration }} old, more than ${thresholds.backupMaxAgeHours}h. Check systemctl list-timers {{ $labels.unit }}.'
      - alert: DeployFailed
        expr: ai4artsed_deploy_ok == 0
        labels: {severity: warning}
        annotations:
          summary: 'the last deploy of {{ $labels.environment }} ({{ $labels.commit }}) {{ $labels.outcome }}; the previous release serves. See revisions.log in its install dir.'
      - alert: GpuMemoryFull
        expr: 100 * ai4artsed_gpu_memory_used_bytes / ai4artsed_gpu_memory_total_bytes > ${thresholds.gpuMemoryFullPercent}
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: 'GPU {{ $labels.gpu }} ({{ $labels.name }}) memory is {{ $value | printf "%.0f" }}% full: generations may fail out of memory. Check nvidia-smi for what holds it.'
      - alert: GpuUnreadable
        expr: ai4artsed_gpu_query_ok == 0
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: 'nvidia-smi cannot read the GPUs, so the GPU service cannot use them either (a driver updated without a reboot?). Run nvidia-smi.'
      - alert: MetricsStale
        expr: time() - ai4artsed_metrics_timestamp_seconds > 600
        labels: {severity: warning}
        annotations:
          summary: 'the deploy and backup metrics are {{ $value | humanizeDuration }} old. Check journalctl -u ai4artsed-monitoring-metrics.'
`;
}

/**
 * Alertmanager: every alert to the relay, which sends it on to monitor.webhookUrl; its recovery
 * too, and a reminder every monitor.remindEveryHours while it lasts.
 */
export function renderAlertmanagerConfig(remindEveryHours: number, withWebhook: boolean): string {
  // Alertmanager has no "never": 0 (no reminders) becomes a year.
  const repeat = remindEveryHours > 0 ? `${Math.max(1, Math.round(remindEveryHours * 60))}m` : "8760h";
  const receiver = withWebhook
    ? `  - name: webhook
    webhook_configs:
      - url: ${q(`http://127.0.0.1:${RELAY_PORT}/`)}
        send_resolved: true
`
    : `  - name: webhook
`;
  return `# Managed by the ai4artsed Pulumi program (host.monitoring).
route:
  receiver: webhook
  group_by: [alertname, environment, unit, mountpoint]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: ${repeat}
receivers:
${receiver}`;
}

/** The relay: Python's standard library, no privileges, the webhook URL as its credential. */
export function renderRelayService(paths: MonitoringPaths = monitoringPaths()): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=AI4ArtsEd alert relay: Alertmanager to monitor.webhookUrl
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 ${paths.relayScript} ${RELAY_PORT}
LoadCredential=webhook:${paths.webhookFile}
DynamicUser=yes
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes

[Install]
WantedBy=multi-user.target
`;
}

/** Each unit's command line: our config, 127.0.0.1 only, bounded storage. Package files stay as Debian ships them. */
export function renderDropIn(unit: MonitoringUnit, settings: MonitoringSettings, paths: MonitoringPaths = monitoringPaths()): string {
  const listen = `--web.listen-address=127.0.0.1:${MONITORING_PORTS[unit]}`;
  const commands: Record<MonitoringUnit, string> = {
    prometheus: [
      "/usr/bin/prometheus",
      `--config.file=${paths.prometheusConfig}`,
      listen,
      "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
      `--storage.tsdb.retention.time=${settings.retentionTime}`,
      `--storage.tsdb.retention.size=${settings.retentionSize}`,
      `--web.console.templates=${paths.consoles}`,
      `--web.console.libraries=${paths.consoles}`,
    ].join(" "),
    "prometheus-node-exporter": `/usr/bin/prometheus-node-exporter ${listen} --collector.textfile.directory=${paths.textfile.replace(/\/[^/]+$/, "")}`,
    "prometheus-blackbox-exporter": `/usr/bin/prometheus-blackbox-exporter --config.file=${paths.blackboxConfig} ${listen}`,
    // No cluster: one Alertmanager, and nothing listening beyond 127.0.0.1.
    "prometheus-alertmanager": `/usr/bin/prometheus-alertmanager --config.file=${paths.alertmanagerConfig} ${listen} --cluster.listen-address= --storage.path=/var/lib/prometheus/alertmanager/`,
  };
  // Debian's popper.min.js is the ES module build, which the classic UI loads as a plain script
  // (a script error on every page); Prometheus alone sees the UMD build in its place.
  const popper =
    unit === "prometheus" ? `BindReadOnlyPaths=-${DEBIAN_POPPER_DIR}/umd/popper.min.js:${DEBIAN_POPPER_DIR}/popper.min.js\n` : "";
  return `${MANAGED_UNIT_HEADER}
[Service]
ExecStart=
ExecStart=${commands[unit]}
${popper}`;
}

/** The metrics script's timer: the deploy, backup and restart figures, fresh at every scrape. */
export function renderMetricsService(paths: MonitoringPaths = monitoringPaths()): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=AI4ArtsEd deploy, backup and restart metrics for Prometheus

[Service]
Type=oneshot
ExecStart=/bin/bash ${paths.metricsScript}
SyslogIdentifier=${paths.metricsUnit}
`;
}

export function renderMetricsTimer(intervalSeconds: number): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=AI4ArtsEd metrics every ${intervalSeconds}s

[Timer]
OnActiveSec=1s
OnUnitActiveSec=${intervalSeconds}s
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
}

/** A console template Prometheus serves at /consoles/ai4artsed.html: both environments and the host at a glance. */
export function renderOverview(settings: MonitoringSettings): string {
  const graph = (title: string, expr: string) =>
    `<a href="/classic/graph?g0.expr=${encodeURIComponent(expr)}&amp;g0.tab=0&amp;g0.range_input=6h">${title}</a>`;
  // A console template's queries sit in double quotes: PromQL's own quotes become single ones.
  const inTemplate = (expr: string) => expr.replace(/"/g, "'");
  const traffic = (env: string) => {
    if (!settings.proxies[env]) return `<td colspan="3">no proxy (restart strategy)</td>`;
    const requests = `sum(rate(${proxyResponses({ environment: env })}[5m]))`;
    const errors = `100 * sum(rate(${proxyResponses({ environment: env, code: "5xx" })}[5m])) / ${requests}`;
    const latency = `haproxy_backend_total_time_average_seconds{job="proxy",proxy="serving",environment="${env}"}`;
    return `<td>{{ with query "${inTemplate(requests)}" }}{{ . | first | value | printf "%.2f" }}/s{{ end }} ${graph("graph", requests)}</td>
  <td>{{ with query "${inTemplate(errors)}" }}{{ . | first | value | printf "%.1f" }}%{{ else }}0%{{ end }} ${graph("graph", errors)}</td>
  <td>{{ with query "${inTemplate(latency)}" }}{{ . | first | value | humanizeDuration }}{{ end }} ${graph("graph", latency)}</td>`;
  };
  const environments = Object.keys(settings.probes)
    .map(
      (env) => `<tr><td>${env}</td>
  <td>{{ with query "probe_success{job='health',environment='${env}'}" }}{{ if eq (. | first | value) 1.0 }}<span class="up">up</span>{{ else }}<span class="down">DOWN</span>{{ end }}{{ else }}<span class="down">no probe</span>{{ end }}</td>
  <td>{{ with query "probe_duration_seconds{job='health',environment='${env}'}" }}{{ . | first | value | humanizeDuration }}{{ end }}</td>
  ${traffic(env)}
  <td>{{ with query "ai4artsed_deploy_timestamp_seconds{environment='${env}'}" }}{{ with . | first }}{{ .Value | humanizeTimestamp }}: {{ .Labels.commit }} {{ .Labels.outcome }}{{ end }}{{ else }}none recorded{{ end }}</td>
  <td>{{ with query "time() - ai4artsed_backup_last_success_timestamp_seconds{unit='ai4artsed-${env}-offsite-backup'}" }}{{ . | first | value | humanizeDuration }} ago{{ else }}none{{ end }}</td>
  <td>${graph("answer time", `probe_duration_seconds{job="health",environment="${env}"}`)}, ${graph("up", `probe_success{job="health",environment="${env}"}`)}</td></tr>`,
    )
    .join("\n");
  return `{{/* Managed by the ai4artsed Pulumi program (host.monitoring). */}}
<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="30"><title>AI4ArtsEd monitoring</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.4em .8em;text-align:left}.up{color:#080}.down{color:#c00;font-weight:bold}</style>
</head><body>
<h1>AI4ArtsEd</h1>
<h2>Environments</h2>
<table><tr><th>environment</th><th>state</th><th>health answer time</th><th>requests</th><th>server errors (5xx)</th><th>response time (last 1024)</th><th>last deploy</th><th>last good backup</th><th>graphs</th></tr>
${environments}
</table>
<h2>Alerts</h2>
<ul>{{ range query "ALERTS{alertstate='firing'}" }}<li class="down">{{ .Labels.alertname }} {{ .Labels.environment }}{{ .Labels.unit }}{{ .Labels.mountpoint }}</li>{{ else }}<li class="up">none firing</li>{{ end }}</ul>
<p><a href="/classic/alerts">all rules</a>, <a href="/classic/targets">scrape targets</a></p>
<h2>Host</h2>
<table>
<tr><td>CPU busy</td><td>{{ with query "100 * (1 - avg(rate(node_cpu_seconds_total{mode='idle'}[5m])))" }}{{ . | first | value | printf "%.0f" }}%{{ end }}</td><td>${graph("graph", '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))')}</td></tr>
<tr><td>memory used</td><td>{{ with query "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)" }}{{ . | first | value | printf "%.0f" }}%{{ end }}</td><td>${graph("graph", "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)")}</td></tr>
{{ range query "100 * (1 - node_filesystem_avail_bytes{fstype!~'tmpfs|ramfs|overlay|squashfs|nsfs'} / node_filesystem_size_bytes)" }}<tr><td>disk {{ .Labels.mountpoint }}</td><td>{{ .Value | printf "%.0f" }}% full</td><td></td></tr>{{ end }}
{{ range query "100 * ai4artsed_gpu_memory_used_bytes / ai4artsed_gpu_memory_total_bytes" }}<tr><td>GPU {{ .Labels.gpu }} {{ .Labels.name }} memory</td><td>{{ .Value | printf "%.0f" }}% used</td><td>${graph("graph", "100 * ai4artsed_gpu_memory_used_bytes / ai4artsed_gpu_memory_total_bytes")}</td></tr>{{ end }}
{{ range query "100 * ai4artsed_gpu_utilization_ratio" }}<tr><td>GPU {{ .Labels.gpu }} {{ .Labels.name }} busy</td><td>{{ .Value | printf "%.0f" }}%</td><td>${graph("graph", "100 * ai4artsed_gpu_utilization_ratio")}</td></tr>{{ end }}
{{ with query "ai4artsed_gpu_query_ok == 0" }}<tr><td>GPU</td><td class="down">nvidia-smi cannot read the GPUs</td><td></td></tr>{{ end }}
</table>
</body></html>
`;
}

export interface MonitoringArgs {
  readonly host: Host;
  readonly settings: MonitoringSettings;
  readonly thresholds: AlertThresholds;
  /** monitor.remindEveryHours. */
  readonly remindEveryHours: number;
  /** monitor.webhookUrl (a secret): where Alertmanager sends; undefined for none. */
  readonly webhookUrl?: pulumi.Input<string>;
  /** Each environment's install dir, for its revisions.log. */
  readonly installDirs: Readonly<Record<string, string>>;
  /** observe.sh's `monitoring` section; undefined when the server was not observed. */
  readonly observed?: string;
  readonly driftBaseline: DriftBaseline;
}

/**
 * Prometheus on the host (host.monitoring): Debian's Prometheus, node and blackbox exporters and
 * Alertmanager, configured by files of this program's own (drop-ins point the units at them),
 * all on 127.0.0.1; alert rules on the environments, deploys, backups and the disk; Alertmanager
 * sends to monitor.webhookUrl, and the timer probes leave the webhook to it while it runs.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:monitoring:Monitoring", name, {}, opts);
    const { host, settings } = args;
    const connection = host.connection;
    const paths = monitoringPaths(host.envDir);
    const withWebhook = args.webhookUrl !== undefined;
    const child = { parent: this, dependsOn: [host.ready] };

    const metricsTimer = renderMetricsTimer(settings.scrapeIntervalSeconds);
    // The files the units read; a change of one restarts them.
    const configs = new Map<string, string>([
      [paths.prometheusConfig, renderPrometheusConfig(settings, paths)],
      [paths.rules, renderAlertRules(args.thresholds)],
      [paths.alertmanagerConfig, renderAlertmanagerConfig(args.remindEveryHours, withWebhook)],
      [paths.blackboxConfig, renderBlackboxConfig()],
      [paths.overview, renderOverview(settings)],
      ...MONITORING_UNITS.map((unit): [string, string] => [paths.dropIn(unit), renderDropIn(unit, settings, paths)]),
      ...(withWebhook
        ? [
            [paths.relayScript, fs.readFileSync(path.join(REMOTE_DIR, "alert-relay.py"), "utf8")] as [string, string],
            [paths.relayService, renderRelayService(paths)] as [string, string],
          ]
        : []),
    ]);
    const texts = new Map<string, string>([
      ...configs,
      [
        paths.metricsScript,
        renderScript("monitoring-metrics", {
          INSTALL_DIRS: Object.entries(args.installDirs)
            .map(([env, dir]) => `${env}=${dir}`)
            .join(" "),
          STATE_DIR: MONITOR_STATE_DIR,
          TEXTFILE: paths.textfile,
        }),
      ],
      [paths.metricsService, renderMetricsService(paths)],
      [paths.metricsTimer, metricsTimer],
    ]);
    const { units, files } = watched(paths, withWebhook);
    // A stopped unit or an edited file shows in preview; `up` rewrites, restarts and re-enables.
    const expected = `${units.map((unit) => `${unit} active enabled`).join("\n")}\n${files.map(({ file }) => texts.get(file)).join("")}`;
    const state = driftCheck(`${name}-state`, expected, args.observed, this, args.driftBaseline);

    // The relay goes with the webhook: unset, its files are removed and it stops.
    const relayGone = `systemctl disable --now ${paths.relayUnit}.service 2>/dev/null || true; systemctl daemon-reload`;
    const removal = (file: string) => (file === paths.relayService ? { removeOnDestroy: { onChange: relayGone } } : file === paths.relayScript ? { removeOnDestroy: {} } : {});
    const installed: pulumi.Resource[] = files
      .filter(({ file }) => file !== paths.metricsTimer)
      .map(({ step, file }) =>
        installFile(
          `${name}-${step}`,
          { connection, file, mode: /\.(sh|py)$/.test(file) ? "755" : "644", text: texts.get(file)!, repairs: state.repairs, ...removal(file) },
          child,
        ),
      );
    if (args.webhookUrl !== undefined) {
      installed.push(
        installFile(
          `${name}-webhook`,
          {
            connection,
            file: paths.webhookFile,
            mode: "600",
            text: pulumi.secret(pulumi.output(args.webhookUrl)),
            // The relay reads its credential when it starts.
            onChange: `systemctl try-restart ${paths.relayUnit}.service`,
            removeOnDestroy: {},
          },
          child,
        ),
      );
    }
    // Packages after the files, so their first start already uses them; restarts when any changed.
    // The services it starts and stops; the metrics timer has steps of its own.
    const services = units.filter((unit) => !unit.endsWith(".timer")).join(" ");
    const apply = remoteScript(
      `${name}-apply`,
      {
        connection,
        script: "monitoring-apply",
        params: {
          APPLIED_FILE: paths.appliedFile,
          PROMETHEUS_URL: localUrl("prometheus"),
          ALERTMANAGER_URL: localUrl("prometheus-alertmanager"),
          MONITORING_PACKAGES: MONITORING_UNITS.join(" "),
          MONITORING_UNITS: services,
          PROMETHEUS_CONFIG: paths.prometheusConfig,
          ALERTMANAGER_CONFIG: paths.alertmanagerConfig,
          BLACKBOX_CONFIG: paths.blackboxConfig,
          CONFIG_DIGEST: sha256([...configs.values()].join("\0")).slice(0, 16),
          REPAIR: state.repairs,
        },
        deleteScript: "monitoring-remove",
        deleteParams: {
          MONITORING_UNITS: services,
          MONITORING_FILES: [...configs.keys(), paths.webhookFile, paths.appliedFile].join(" "),
          MONITORING_DIRS: [paths.consoles, paths.dir, ...MONITORING_UNITS.map((unit) => paths.dropIn(unit).replace(/\/[^/]+$/, ""))].join(" "),
        },
      },
      { parent: this, dependsOn: installed },
    );
    timerSteps(
      `${name}-metrics`,
      {
        connection,
        timer: { unit: paths.metricsUnit, timerFile: paths.metricsTimer, serviceFile: paths.metricsService },
        timerText: metricsTimer,
        repairs: state.repairs,
        files: [paths.metricsScript, paths.textfile],
        dependsOn: [apply],
        removeDependsOn: [host.ready],
      },
      this,
    );
    this.url = pulumi.output(`${localUrl("prometheus")}/consoles/ai4artsed.html`);
    this.registerOutputs({ url: this.url });
  }
}
