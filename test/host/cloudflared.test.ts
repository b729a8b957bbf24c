/**
 * The Cloudflare connector on the real server. Cloudflare's API and package repository are
 * unreachable here: the tunnel token comes from the mocked provider and `cloudflared` is a
 * stand-in (test/host/stand-ins/cloudflared.py) with the real command line. What is real: the
 * unit, the token file, systemd starting the connector, and where the token does not show.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { deploy, sh, shOk, startTestBed, stopTestServer, TestServer } from "./harness";

const NAME = `ai4c${process.pid % 10000}`;
const UNIT = "cloudflared-ai4artsed-production.service";
const TOKEN_FILE = "/etc/ai4artsed/cloudflared-ai4artsed-production.token";
const CLOUDFLARE = {
  enabled: true,
  accountId: "0123456789abcdef0123456789abcdef",
  zoneId: "fedcba9876543210fedcba9876543210",
  apiToken: "cf-api-token-for-tests",
  access: { allowedEmails: ["teacher@example.org"] },
  connector: { packageSource: "installed", binaryPath: "/usr/local/bin/cloudflared" },
};
const STEPS = ["host-packages", "host-layout", "cloudflare-connector-token", "cloudflare-connector-unit", "cloudflare-connector-install"];
let server: TestServer;
let token: string;

before(async () => {
  ({ server } = await startTestBed(NAME));
  const standIn = fs.readFileSync(path.join(__dirname, "stand-ins", "cloudflared.py"), "utf8");
  const install = await sh(server, "install -m 755 /dev/stdin /usr/local/bin/cloudflared", standIn);
  assert.equal(install.code, 0, install.stderr);
  const deployment = await deploy(server, "production", { cloudflare: CLOUDFLARE }, STEPS);
  token = deployment.graph.get("production-cloudflare-connector-token")!.inputs.stdin;
  assert.equal(typeof token, "string", "the mocked provider's tunnel token reaches the token step's stdin");
});

after(() => {
  if (server) stopTestServer(NAME);
});

test("the connector unit runs, restarts on failure, and starts after the network", async () => {
  assert.equal(await shOk(server, `systemctl is-active ${UNIT}`), "active");
  assert.equal(await shOk(server, `systemctl is-enabled ${UNIT}`), "enabled");
  const unit = await shOk(server, `systemctl cat ${UNIT}`);
  assert.match(unit, /\nRestart=on-failure\n/);
  assert.match(unit, /\nAfter=network-online\.target\n/);
  const verify = await sh(server, `systemd-analyze verify /etc/systemd/system/${UNIT}`);
  assert.equal(verify.code, 0, `systemd-analyze verify: ${verify.stdout}${verify.stderr}`);
});

test("the token file is root-owned 0600", async () => {
  assert.equal(await shOk(server, `stat -c '%a %U:%G' ${TOKEN_FILE}`), "600 root:root");
  assert.equal(await shOk(server, `cat ${TOKEN_FILE}`), token.trim());
});

test("the token shows neither in ps, nor in the unit, nor in the journal", async () => {
  assert.ok(token.length > 40, "a realistic token");
  const ps = await shOk(server, "ps -eo args");
  assert.match(ps, /cloudflared tunnel --no-autoupdate run --token-file/);
  assert.ok(!ps.includes(token), "token in ps");
  assert.ok(!(await shOk(server, `systemctl cat ${UNIT}`)).includes(token), "token in the unit");
  const journal = await shOk(server, "journalctl --no-pager -o cat");
  assert.ok(!journal.includes(token), "token in the journal");
  assert.match(journal, /stand-in connector running with a token of \d+ characters/);
});

test("exactly one connector for the tunnel: a second deploy changes nothing", async () => {
  const pid = await shOk(server, `systemctl show -p MainPID --value ${UNIT}`);
  await deploy(server, "production", { cloudflare: CLOUDFLARE }, STEPS);
  assert.equal(await shOk(server, `systemctl show -p MainPID --value ${UNIT}`), pid);
  assert.equal(await shOk(server, "pgrep -fc 'cloudflared tunnel'"), "1");
});
