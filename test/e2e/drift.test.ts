/**
 * Drift review with the real engine on the real server: after a clean `up`, each case is a
 * change made by hand over SSH; `preview` must name the drifted resource and show what differs,
 * `up` must put it right, and the next `preview` must be clean.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { headOf, mutate, publishRepo, scrapeTargets, SERVER_REPO, shOk, sshLoginsDuring, startTestBed, stopTestServer, TestServer } from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";

const NAME = `ai4d${process.pid % 10000}`;
const PROD = "/opt/ai4artsed-production";
const UNIT = "/etc/systemd/system/ai4artsed-production.service";
const ENV_FILE = "/etc/ai4artsed/ai4artsed-production.env";
const DROPIN = "/etc/systemd/journald.conf.d/60-ai4artsed.conf";
let server: TestServer;
let repo: string;
let ws: PulumiWorkspace;

async function healthy(): Promise<boolean> {
  return (await shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17801/api/schema/info || true")) === "200";
}

/** Hand change -> preview names it -> up repairs -> preview clean. */
async function driftCase(change: string, resource: string, shown: RegExp, repaired: () => Promise<void>): Promise<void> {
  await shOk(server, change);
  const preview = ws.ok(["preview", "--diff"]);
  // The resource diff goes to stdout; the drift warning with its unified diff, to stderr.
  const text = `${preview.stdout}\n${preview.stderr}`;
  assert.ok(text.includes(resource), `preview does not name ${resource}:\n${text}`);
  assert.match(text, shown, `preview does not show what differs:\n${text}`);
  ws.ok(["up", "--yes", "--skip-preview"]);
  await repaired();
  const clean = ws.run(["preview", "--expect-no-changes", "--diff"]);
  assert.equal(clean.code, 0, `preview after the repair is not clean:\n${clean.stdout}\n${clean.stderr}`);
}

before(async () => {
  ({ server, repo } = await startTestBed(NAME));
  ws = new PulumiWorkspace("production");
  ws.init(server, SERVER_REPO, "production");
  // These cases edit the restart strategy's unit; blue-green drift is covered by test/host/bluegreen.test.ts.
  ws.set("app.deployStrategy", "restart");
  ws.ok(["up", "--yes", "--skip-preview"]);
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
});

test("no drift: preview is clean, fast, and opens one SSH connection", async () => {
  const { result: preview, logins } = await sshLoginsDuring(server, () => ws.run(["preview", "--expect-no-changes"]));
  assert.equal(preview.code, 0, preview.stdout + preview.stderr);
  console.log(`# no-drift preview: ${preview.seconds.toFixed(1)} s, ${logins} SSH connection(s)`);
  assert.equal(logins, 1);
});

test("planned changes (a commit, new requirements, a setting) show as changes and never as drift", async () => {
  mutate(repo, "main", "code");
  mutate(repo, "main", "requirements");
  await publishRepo(server, repo);
  ws.set("app.logLevel", "WARNING");
  const preview = ws.ok(["preview", "--diff"]);
  const text = `${preview.stdout}\n${preview.stderr}`;
  assert.doesNotMatch(text, /drift in /, `a planned change is reported as drift:\n${text}`);
  for (const check of ["production-service-current-state", "production-python-state", "production-service-environment-state"]) {
    assert.ok(text.includes(check), `preview does not show ${check} changing:\n${text}`);
  }
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  assert.doesNotMatch(`${up.stdout}\n${up.stderr}`, /drift in /, "the deploy reports its own changes as drift");
  assert.ok(await healthy());
  const clean = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test("1. unit file edited by hand", async () => {
  await driftCase(`sed -i 's/^RestartSec=10$/RestartSec=30/' ${UNIT} && systemctl daemon-reload`, "production-service-unit-state", /RestartSec=30/, async () => {
    assert.match(await shOk(server, `cat ${UNIT}`), /\nRestartSec=10\n/);
    assert.equal(await shOk(server, "systemctl show -p RestartUSec --value ai4artsed-production"), "10s");
  });
});

test("2a. EnvironmentFile mode loosened", async () => {
  await driftCase(`chmod 644 ${ENV_FILE}`, "production-service-environment-state", /644 root:root/, async () => {
    assert.equal(await shOk(server, `stat -c %a ${ENV_FILE}`), "600");
  });
});

test("2b. EnvironmentFile edited", async () => {
  await driftCase(`echo 'DEBUG="true"' >> ${ENV_FILE}`, "production-service-environment-state", /sha256:/, async () => {
    assert.doesNotMatch(await shOk(server, `tail -n 1 ${ENV_FILE}`), /DEBUG="true"/);
    assert.ok(await healthy());
  });
});

test("3a. service stopped", async () => {
  await driftCase("systemctl stop ai4artsed-production", "production-service-running-state", /inactive enabled/, async () => {
    assert.equal(await shOk(server, "systemctl is-active ai4artsed-production"), "active");
    assert.ok(await healthy());
  });
});

test("3b. service disabled", async () => {
  await driftCase("systemctl disable --quiet ai4artsed-production", "production-service-running-state", /active disabled/, async () => {
    assert.equal(await shOk(server, "systemctl is-enabled ai4artsed-production"), "enabled");
  });
});

test("4. current switched by hand to another release", async () => {
  const first = headOf(repo, "main");
  const second = mutate(repo, "main", "code");
  await publishRepo(server, repo);
  ws.ok(["up", "--yes", "--skip-preview"]);
  await driftCase(`ln -sfn ${PROD}/releases/${first} ${PROD}/current && systemctl restart ai4artsed-production`, "production-service-current-state", new RegExp(`releases/${first}`), async () => {
    assert.equal(await shOk(server, `readlink ${PROD}/current`), `${PROD}/releases/${second}`);
    const version = execFileSync("git", ["-C", repo, "show", `${second}:devserver/VERSION`]).toString().trim();
    assert.equal(JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:17801/api/schema/info")).version, version);
  });
});

test("5a. firewall rule deleted", async () => {
  await driftCase("ufw delete deny 17801/tcp", "production-firewall-state", /ufw deny 17801\/tcp comment 'ai4artsed-production'/, async () => {
    assert.match(await shOk(server, "ufw status"), /17801\/tcp\s+DENY\s/);
  });
});

test("5b. 17801 allowed by hand", async () => {
  // ufw refuses a second rule for the same port and protocol, so a hand-made opening names a source.
  const opening = "allow from 10.213.0.0/16 to any port 17801 proto tcp";
  await driftCase(`ufw insert 1 ${opening}`, "production-firewall-state", new RegExp(`ufw ${opening}`), async () => {
    const added = await shOk(server, "ufw show added");
    assert.ok(!added.includes(opening), `the hand-made opening is still there:\n${added}`);
    assert.match(await shOk(server, "ufw status"), /17801\/tcp\s+DENY\s/);
  });
});

test("6a. journald drop-in edited", async () => {
  await driftCase(`sed -i 's/^SystemMaxUse=1G$/SystemMaxUse=8G/' ${DROPIN}`, "production-journald-state", /SystemMaxUse=8G/, async () => {
    assert.match(await shOk(server, `cat ${DROPIN}`), /\nSystemMaxUse=1G\n/);
  });
});

test("6b. journald drop-in removed", async () => {
  await driftCase(`rm ${DROPIN}`, "production-journald-state", /<missing>/, async () => {
    assert.match(await shOk(server, "systemd-analyze cat-config systemd/journald.conf"), /\nSystemMaxUse=1G\n/);
  });
});

test("7. venv deleted", async () => {
  const venv = await shOk(server, `readlink ${PROD}/current/venv`);
  await driftCase(`rm -rf ${venv}`, "production-python-state", / missing/, async () => {
    await shOk(server, `test -f ${venv}/.complete && ${venv}/bin/python -c 'import flask, waitress'`);
    assert.ok(await healthy());
  });
});

test("8. health monitor's timer disabled and stopped by hand", async () => {
  const timer = "ai4artsed-production-health.timer";
  await driftCase(`systemctl disable --now --quiet ${timer}`, "production-monitor-state", /inactive disabled/, async () => {
    assert.equal(await shOk(server, `systemctl is-enabled ${timer}`), "enabled");
    assert.equal(await shOk(server, `systemctl is-active ${timer}`), "active");
  });
});

test("9. host.monitoring on: `up` installs it, the next preview is clean; a stopped Prometheus shows as drift and `up` starts it", async () => {
  ws.set("host.monitoring.enabled", "true");
  ws.ok(["up", "--yes", "--skip-preview"]);
  assert.equal(await shOk(server, "curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/-/ready"), "200");
  // Every target scraped; this stack runs restart, so its proxy job is absent (none to scrape), and
  // development's default (restart) has none either: what the engine's `up` set up.
  assert.deepEqual(await scrapeTargets(server, 6), [
    "alertmanager",
    "blackbox",
    "health:development",
    "health:production",
    "node",
    "prometheus",
  ]);
  const clean = ws.run(["preview", "--expect-no-changes", "--diff"]);
  assert.equal(clean.code, 0, `preview right after the monitoring's first up is not clean:\n${clean.stdout}\n${clean.stderr}`);
  assert.doesNotMatch(`${clean.stdout}\n${clean.stderr}`, /drift in /);
  await driftCase("systemctl stop prometheus", "production-monitoring-state", /prometheus inactive enabled/, async () => {
    assert.equal(await shOk(server, "systemctl is-active prometheus"), "active");
  });
});
