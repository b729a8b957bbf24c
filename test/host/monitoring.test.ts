/**
 * The host's monitoring (host.monitoring) on a real Debian server: Debian's Prometheus, node and
 * blackbox exporters and Alertmanager, owned by production and watching both environments. Every
 * target is scraped, everything listens on 127.0.0.1; a second stack is refused; stopping
 * production makes the down alert go pending, then fire through Alertmanager and the relay to a
 * real webhook receiver (once: the timer probe leaves the webhook to it), and recover; a failed deploy and a
 * stale backup show in the metrics and alert; drift shows and is repaired; removal stops it all
 * and keeps the history. Tests run in order and share one server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseStackConfig } from "../../config/load";
import { inspectServer } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { normalizeState, stateSummary } from "../../components/providers/drift";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import * as fs from "fs";
import * as path from "path";
import { chromium } from "playwright-core";
import { openSsh } from "../../lib/ssh";
import { browserPath, checkPage } from "../../scripts/smoke";
import {
  alerts,
  deploy,
  Deployment,
  hooks,
  mutate,
  publishRepo,
  ROOT,
  scrapeTargets,
  SERVER_REPO,
  sh,
  shOk,
  startHookReceiver,
  startTestBed,
  stopTestServer,
  TestServer,
  waitFor,
} from "./harness";

const NAME = `ai4m${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const CONF = "/etc/ai4artsed/monitoring";
const UNITS = ["prometheus", "prometheus-node-exporter", "prometheus-blackbox-exporter", "prometheus-alertmanager", "ai4artsed-alert-relay"];
const PACKAGES = UNITS.slice(0, 4);
/** Screenshots of the dashboards, kept for the job's output. */
const OUTPUT = path.join(ROOT, "test-output");
let server: TestServer;
let repo: string;
let webhookUrl: string;
let prod: Deployment;

/** Production as an operator turns the monitoring on, with short waits: a 2 s scrape, down 4 s before it alerts. */
function production(app: object = {}) {
  return {
    app,
    host: { monitoring: { enabled: true, scrapeIntervalSeconds: 2 } },
    monitor: { intervalSeconds: 2, alertAfterSeconds: 4, webhookUrl },
  };
}

/** A PromQL query on the server's Prometheus: its result vector. */
async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const out = await shOk(server, `curl -sf http://127.0.0.1:9090/api/v1/query --data-urlencode ${JSON.stringify(`query=${expr}`)}`);
  return JSON.parse(out).data.result;
}

/** The webhook's POSTs about production being down or back: "state service: text" lines. */
async function productionPosts(): Promise<string[]> {
  return (await hooks(server)).filter((h) => /production/.test(h.text)).map((h) => `${h.state} ${h.service}: ${h.text}`);
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
  webhookUrl = await startHookReceiver(server, "monitoring-hook-token-5");
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("1. production turns it on: Debian's packages, each unit on 127.0.0.1 only, every target scraped, both environments probed", async () => {
  await deploy(server, "development", {});
  prod = await deploy(server, "production", production());
  assert.equal(await shOk(server, UNITS.map((u) => `systemctl is-active ${u}; systemctl is-enabled ${u}`).join("; ")), UNITS.map(() => "active\nenabled").join("\n"));
  // Debian's ports; nothing listens beyond the loopback (Alertmanager's cluster port is off).
  const listening = (await shOk(server, `ss -Hltnp | grep -E '"(prometheus|prometheus-[a-z-]+)"' | awk '{ print $4 }' | sort`)).split("\n");
  assert.deepEqual(listening, ["127.0.0.1:9090", "127.0.0.1:9093", "127.0.0.1:9100", "127.0.0.1:9115"]);
  assert.equal(await shOk(server, "ss -Hltn 'sport = :9095' | awk '{ print $4 }'"), "127.0.0.1:9095", "the alert relay");
  assert.deepEqual(await scrapeTargets(server, 7), [
    "alertmanager",
    "blackbox",
    "health:development",
    "health:production",
    "node",
    "prometheus",
    "proxy:production", // blue-green: haproxy's own exporter; development (restart) has no proxy
  ]);
  const probes = await waitFor("both environments answering", () => query('probe_success{job="health"}'), (r) => r.length === 2 && r.every((s) => s.value[1] === "1"));
  assert.deepEqual(probes.map((s) => s.metric.environment).sort(), ["development", "production"]);
  // The deploys and the units, from the metrics script through the node exporter.
  const deployed = await waitFor("the deploy metrics", () => query("ai4artsed_deploy_ok"), (r) => r.length === 2);
  assert.deepEqual(deployed.map((s) => `${s.metric.environment} ${s.metric.outcome} ${s.value[1]}`).sort(), ["development ok 1", "production ok 1"]);
  assert.equal(deployed.find((s) => s.metric.environment === "production")!.metric.commit, prod.facts.commit.slice(0, 12));
  assert.ok((await query('ai4artsed_unit_restarts_total{unit="ai4artsed-production-proxy"}')).length === 1);
  // Retention as set; the overview page, through Prometheus itself.
  const runtime = JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:9090/api/v1/status/runtimeinfo")).data;
  assert.equal(runtime.storageRetention, "2w or 1GiB"); // 14d, as Prometheus writes it
  const page = await shOk(server, "curl -sf http://127.0.0.1:9090/consoles/ai4artsed.html");
  assert.match(page, /<tr><td>production<\/td>\s*<td><span class="up">up<\/span><\/td>/);
  assert.match(page, /<tr><td>development<\/td>\s*<td><span class="up">up<\/span><\/td>/);
  assert.match(page, new RegExp(`${prod.facts.commit.slice(0, 12)} ok`));
  assert.equal(await shOk(server, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/classic/graph"), "200");
});

test("1b. the dashboards load in a real browser through an SSH tunnel, with no console error and no failed request, and show data", async () => {
  const session = await openSsh({ host: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey });
  const browser = await chromium.launch({ executablePath: browserPath() });
  try {
    const base = `http://127.0.0.1:${await session.forward(9090)}`;
    fs.mkdirSync(OUTPUT, { recursive: true });
    const pages: Array<[string, string, RegExp[]]> = [
      ["overview", "/consoles/ai4artsed.html", [/production\s+up/, /development\s+up/, /none firing/]],
      ["graph", `/classic/graph?g0.expr=${encodeURIComponent('probe_success{job="health"}')}&g0.tab=1`, [/environment="production"/, /environment="development"/]],
      ["alerts", "/classic/alerts", [/EnvironmentDown/, /BackupStale/]],
    ];
    for (const [name, url, shows] of pages) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const screenshot = path.join(OUTPUT, `monitoring-${name}.png`);
      const { failures, requests } = await checkPage(page, `${base}${url}`, screenshot);
      console.log(`# dashboard ${name}: ${requests} requests, ${failures.length} problem(s); screenshot ${screenshot}`);
      assert.deepEqual(failures, [], name);
      const text = await page.locator("body").innerText();
      for (const data of shows) assert.match(text, data, `${name} shows data`);
      await page.close();
    }
  } finally {
    await browser.close();
    session.close();
  }
});

test("1c. a GPU's memory and load reach the overview (a stand-in nvidia-smi: no test server has a GPU)", async () => {
  await shOk(
    server,
    `printf '%s\\n' '#!/bin/sh' "echo '0, NVIDIA RTX 6000 Ada Generation, 87, 45000, 49140, 71'" >/usr/local/bin/nvidia-smi && chmod 755 /usr/local/bin/nvidia-smi`,
  );
  try {
    const used = await waitFor("the GPU's memory metric", () => query("ai4artsed_gpu_memory_used_bytes"), (r) => r.length === 1);
    assert.equal(used[0].metric.name, "NVIDIA RTX 6000 Ada Generation");
    assert.equal(Number(used[0].value[1]), 45000 * 1048576);
    const page = await shOk(server, "curl -sf http://127.0.0.1:9090/consoles/ai4artsed.html");
    assert.match(page, /<tr><td>GPU 0 NVIDIA RTX 6000 Ada Generation memory<\/td><td>92% used<\/td>/);
    assert.match(page, /<tr><td>GPU 0 NVIDIA RTX 6000 Ada Generation busy<\/td><td>87%<\/td>/);
  } finally {
    await shOk(server, "rm -f /usr/local/bin/nvidia-smi");
  }
});

test("2. a second stack is refused before anything is sent, naming the stack that runs it and both ways out", async () => {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const { environment, config } = parseStackConfig(
    "development",
    rawConfig({ server: serverConfig, app: { repoUrl: SERVER_REPO }, host: { monitoring: { enabled: true } } }),
    SECRET_SECTIONS,
  );
  const before = await shOk(server, `sha256sum ${CONF}/*.yml`);
  await assert.rejects(inspectServer("development", environment, config, denyPortsOf(config)), /host\.monitoring\.enabled: stack 'production' runs the monitoring on .*pulumi config set --path host\.monitoring\.enabled false -s development/);
  assert.equal(await shOk(server, `sha256sum ${CONF}/*.yml`), before);
});

test("3. production stopped: the down alert goes pending, then fires once through Alertmanager to the webhook; the recovery follows", async () => {
  const posts = (await productionPosts()).length;
  await shOk(server, "systemctl stop ai4artsed-production-proxy.service");
  try {
    await waitFor("the alert pending", () => query('ALERTS{alertname="EnvironmentDown",alertstate="pending"}'), (r) => r.length === 1 && r[0].metric.environment === "production");
    await waitFor("the alert firing", () => query('ALERTS{alertname="EnvironmentDown",alertstate="firing"}'), (r) => r.length === 1);
    const fired = await waitFor("the relayed POST", productionPosts, (p) => p.length === posts + 1, 60);
    assert.match(fired.at(-1)!, /^down ai4artsed-production: production is down: http:\/\/127\.0\.0\.1:17801\/api\/schema\/info has not answered 2xx for 4s\./);
    // The timer probe saw it too: its journal says so, and it left the webhook to Alertmanager.
    await waitFor("the probe's own alert", () => alerts(server, "ai4artsed-production"), (a) => a.some((l) => /^3 \S+ is down: /.test(l)), 30);
    // The probe runs every 2 s here: systemd's own lines bury its note, so it is searched for, not tailed.
    assert.notEqual(await shOk(server, "journalctl -u ai4artsed-production-health -o cat --no-pager | grep -c 'the webhook hears of it from Alertmanager' || true"), "0");
  } finally {
    // The tests after this one need production serving, whatever failed here.
    await shOk(server, "systemctl start ai4artsed-production-proxy.service");
  }
  const recovered = await waitFor("the recovery POST", productionPosts, (p) => p.length === posts + 2, 120);
  assert.match(recovered.at(-1)!, /^recovered ai4artsed-production: recovered: production is down/);
  assert.deepEqual(recovered.slice(posts).map((p) => p.split(" ")[0]), ["down", "recovered"], "one alert for one outage, one recovery");
});

test("3b. server errors through production's proxy: counted per environment, shown on the overview, and ErrorRate fires to the webhook", async () => {
  const exports = `${PROD}/shared/exports`;
  const mode = await shOk(server, `stat -c %a ${exports}`);
  // An exports directory the app cannot write: each export answers 500, as on a full or broken disk.
  await shOk(server, `chmod 555 ${exports}`);
  try {
    const codes = await shOk(server, "for i in $(seq 20); do curl -s -o /dev/null -w '%{http_code}\\n' -X POST --data x 'http://127.0.0.1:17801/api/export?name=e'$i'.json'; done | sort | uniq -c");
    assert.match(codes, /^\s*20 500$/, codes);
    const counted = await waitFor(
      "the proxy's 5xx count",
      () => query('haproxy_frontend_http_responses_total{job="proxy",proxy="app",code="5xx"}'),
      (r) => r.length === 1 && Number(r[0].value[1]) >= 20,
    );
    assert.equal(counted[0].metric.environment, "production");
    await waitFor("ErrorRate firing", () => query('ALERTS{alertname="ErrorRate",alertstate="firing"}'), (r) => r.length === 1 && r[0].metric.environment === "production");
    const posted = await waitFor("the relayed POST", productionPosts, (p) => p.some((line) => / answers \d+% of its requests with a server error/.test(line)), 60);
    assert.match(posted.find((line) => /server error/.test(line))!, /^down ai4artsed-production: production answers \d+% of its requests with a server error \(5xx\)/);
    const page = await shOk(server, "curl -sf http://127.0.0.1:9090/consoles/ai4artsed.html");
    assert.match(page, /<tr><td>production<\/td>[\s\S]*?<td>[1-9]\d*\.\d%/, "the overview shows production's error share");
  } finally {
    await shOk(server, `chmod ${mode} ${exports}`);
  }
});

test("4. a failed deploy and a stale backup show in the metrics and alert", async () => {
  const bad = mutate(repo, "main", "break-startup");
  await publishRepo(server, repo);
  await assert.rejects(deploy(server, "production", production()));
  const failed = await waitFor("the failed deploy's metric", () => query('ai4artsed_deploy_ok{environment="production"}'), (r) => r.length === 1 && r[0].value[1] === "0");
  assert.equal(failed[0].metric.commit, bad.slice(0, 12));
  assert.equal(failed[0].metric.outcome, "failed");
  await waitFor("the failed deploy's alert", () => query('ALERTS{alertname="DeployFailed",alertstate="firing"}'), (r) => r.length === 1);
  // The off-host backup's state file, as offsite-backup.sh writes it: a good backup three days old.
  const threeDaysAgo = Math.floor(Date.now() / 1000) - 3 * 86400;
  await shOk(server, `printf 'last_result=ok\\nlast_success=${threeDaysAgo}\\n' >/var/lib/ai4artsed/ai4artsed-production-offsite-backup.state`);
  const stale = await waitFor("the stale backup's alert", () => query('ALERTS{alertname="BackupStale",alertstate="firing"}'), (r) => r.length === 1);
  assert.equal(stale[0].metric.unit, "ai4artsed-production-offsite-backup");
  await shOk(server, "rm /var/lib/ai4artsed/ai4artsed-production-offsite-backup.state");
  mutate(repo, "main", "fix");
  await publishRepo(server, repo);
  prod = await deploy(server, "production", production());
  await waitFor("the good deploy's metric", () => query('ai4artsed_deploy_ok{environment="production"}'), (r) => r.length === 1 && r[0].value[1] === "1");
});

test("5. drift of its files and units shows in preview and is repaired", async () => {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const { environment, config } = parseStackConfig("production", rawConfig({ server: serverConfig, ...production(), app: { repoUrl: SERVER_REPO } }), SECRET_SECTIONS);
  const observe = async () => (await inspectServer("production", environment, config, denyPortsOf(config))).observed.get("monitoring") ?? "";
  const wanted = prod.graph.get("production-monitoring-state")!.inputs.expected;
  assert.equal(stateSummary(normalizeState(await observe())), wanted, "a fresh deploy shows no drift");
  await shOk(server, `systemctl disable --now prometheus-alertmanager && sed -i 's/group_wait: 10s/group_wait: 99s/' ${CONF}/alertmanager.yml`);
  const drifted = await observe();
  assert.match(drifted, /^prometheus-alertmanager inactive disabled$/m);
  assert.match(drifted, /group_wait: 99s/);
  await deploy(server, "production", production());
  assert.equal(stateSummary(normalizeState(await observe())), wanted, "repaired");
});

test("5b. a changed monitor.webhookUrl reaches the relay at once (it reads its credential when it starts)", async () => {
  const pid = await shOk(server, "systemctl show -P MainPID ai4artsed-alert-relay.service");
  webhookUrl = webhookUrl.replace(/[^/]+$/, "monitoring-hook-token-6");
  await deploy(server, "production", production());
  assert.notEqual(await shOk(server, "systemctl show -P MainPID ai4artsed-alert-relay.service"), pid);
  assert.equal(await shOk(server, "cat /run/credentials/ai4artsed-alert-relay.service/webhook"), webhookUrl);
});

test("6. removal stops and disables it, takes its files; Debian's packages and the history stay; the probe takes the webhook back", async () => {
  const remove = prod.graph.get("production-monitoring-apply")!.inputs.delete;
  assert.equal((await sh(server, remove)).code, 0);
  assert.equal(await shOk(server, UNITS.map((u) => `systemctl is-active ${u} || true`).join("; ")), UNITS.map(() => "inactive").join("\n"));
  await shOk(server, `test ! -e ${CONF}/prometheus.yml && test ! -e /etc/systemd/system/prometheus.service.d/ai4artsed.conf && test -d /var/lib/prometheus/metrics2`);
  await shOk(server, `dpkg-query -W ${PACKAGES.join(" ")}`);
  assert.equal(await shOk(server, "ss -Hltn 'sport = :9090' | wc -l"), "0");
  // Without Alertmanager the timer probe alerts by itself again.
  const posts = (await productionPosts()).length;
  await shOk(server, "systemctl stop ai4artsed-production-proxy.service");
  const posted = await waitFor("the probe's POST", productionPosts, (p) => p.length === posts + 1, 60);
  assert.match(posted.at(-1)!, /^down ai4artsed-production\S+: ai4artsed-production\S+ is down: /);
  await shOk(server, "systemctl start ai4artsed-production-proxy.service");
});
