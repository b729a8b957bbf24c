/**
 * Cloudflare edge under mocks: the Cloudflare API is not reachable from tests, so these check the
 * inputs the program hands the provider, not what Cloudflare does with them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig } from "../../config/load";
import { renderScript } from "../../components/steps/commands";
import { serverConnection } from "../../components/steps/connection";
import { Environment } from "../../components/environment";
import { accessRules } from "../../components/cloudflare/access";
import { connectorUnitName, renderConnectorUnit } from "../../components/cloudflare/connectorUnit";
import { rateLimitRule } from "../../components/cloudflare/rateLimit";
import { DEFAULT_ORIGIN, tunnelIngress } from "../../components/cloudflare/tunnel";
import { buildStack, recorded, invoked, mockAccessAud, MOCK_CHECK_TOKEN, MOCK_TUNNEL_SECRET, mockTunnelToken, Recorded, scriptOf } from "./mocks";
import { FACTS, rawConfig, SECRET_SECTIONS, TEST_CLOUDFLARE } from "./fixtures";

const ROOT = path.join(__dirname, "..", "..");
const CF = TEST_CLOUDFLARE;
const { accountId: ACCOUNT, zoneId: ZONE, apiToken: API_TOKEN } = CF;
const DEV_CF = { ...CF, hostname: "lab-dev.ai4artsed.org" };

const TYPES = {
  provider: "pulumi:providers:cloudflare",
  tunnel: "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared",
  config: "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
  dns: "cloudflare:index/dnsRecord:DnsRecord",
  application: "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication",
  policy: "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy",
  serviceToken: "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
  group: "cloudflare:index/zeroTrustAccessGroup:ZeroTrustAccessGroup",
  ruleset: "cloudflare:index/ruleset:Ruleset",
  command: "command:remote:Command",
};


function cloudflareResources(graph: Map<string, Recorded>): Recorded[] {
  return [...graph.values()].filter((r) => r.type.startsWith("cloudflare:") || r.type === TYPES.provider);
}

// ---------- pure renderers ----------

test("connector unit: token only through a root-only file, never in the unit or on the command line", () => {
  const unit = renderConnectorUnit({
    unitName: "cloudflared-ai4artsed-production",
    description: "Cloudflare tunnel connector for AI4ArtsEd production",
    binaryPath: "/usr/bin/cloudflared",
    tokenFile: "/etc/ai4artsed/cloudflared-ai4artsed-production.token",
  });
  const lines = unit.split("\n");
  for (const line of [
    "LoadCredential=tunnel-token:/etc/ai4artsed/cloudflared-ai4artsed-production.token",
    "ExecStart=/usr/bin/cloudflared tunnel --no-autoupdate run --token-file %d/tunnel-token",
    "Type=notify",
    "Restart=on-failure",
    "After=network-online.target",
    "Wants=network-online.target",
    "DynamicUser=yes",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "CapabilityBoundingSet=",
    "InaccessiblePaths=-/etc/cloudflared -/usr/local/etc/cloudflared",
    "SyslogIdentifier=cloudflared-ai4artsed-production",
    "WantedBy=multi-user.target",
  ]) {
    assert.ok(lines.includes(line), `unit lacks ${line}`);
  }
  assert.doesNotMatch(unit, /--token\s|--token=|TUNNEL_TOKEN|EnvironmentFile/, "the token must not reach the command line or the environment");
  assert.equal(connectorUnitName("development"), "cloudflared-ai4artsed-development");
  assert.throws(() => renderConnectorUnit({ unitName: "x", description: "a\nExecStartPre=/bin/sh", binaryPath: "/usr/bin/cloudflared", tokenFile: "/t" }), /one line/);
});

test("ingress: the hostname to the app on loopback with origin settings, the catch-all 404 last", () => {
  const ingress = tunnelIngress([{ hostname: "lab.ai4artsed.org", port: 17801 }], DEFAULT_ORIGIN);
  assert.deepEqual(ingress, [
    {
      hostname: "lab.ai4artsed.org",
      service: "http://127.0.0.1:17801",
      originRequest: { connectTimeout: 60, keepAliveConnections: 100, keepAliveTimeout: 90, tcpKeepAlive: 30 },
    },
    { service: "http_status:404" },
  ]);
  const checked = tunnelIngress([{ hostname: "lab.ai4artsed.org", port: 17801, accessCheck: { teamName: "ai4artsed", audience: "aud" } }], DEFAULT_ORIGIN);
  assert.deepEqual((checked[0] as any).originRequest.access, { required: true, teamName: "ai4artsed", audTags: ["aud"] });
});

test("Access rules: emails and domains included, one country required directly, several through a group", () => {
  assert.deepEqual(accessRules(["a@x.org"], ["y.org"], ["DE"]), {
    includes: [{ email: { email: "a@x.org" } }, { emailDomain: { domain: "y.org" } }],
    requires: [{ geo: { countryCode: "DE" } }],
    countryGroup: [],
  });
  assert.deepEqual(accessRules([], ["y.org"], ["DE", "AT"]).countryGroup, ["DE", "AT"]);
  assert.throws(() => accessRules([], [], ["DE"]), /at least one email/);
});

test("rate-limit rule defaults: 100 requests per 60 s, blocked 600 s, on the hostname", () => {
  const { rateLimit } = parseStackConfig("production", rawConfig({ cloudflare: CF }), SECRET_SECTIONS).config.cloudflare;
  assert.deepEqual(rateLimitRule("lab.ai4artsed.org", rateLimit), {
    action: "block",
    description: "ai4artsed: rate limit for lab.ai4artsed.org",
    enabled: true,
    expression: '(http.host eq "lab.ai4artsed.org")',
    ratelimit: { characteristics: ["cf.colo.id", "ip.src"], period: 60, requestsPerPeriod: 100, mitigationTimeout: 600 },
  });
});

test("the remote scripts render and parse as bash", () => {
  for (const script of ["cloudflared-install", "cloudflared-remove"] as const) {
    const text = renderScript(script, { UNIT_NAME: "cloudflared-ai4artsed-production.service", TOKEN_FILE: "/etc/ai4artsed/x.token" });
    execFileSync("bash", ["-n"], { input: text });
  }
});

// ---------- the graph under mocks ----------

test("disabled (the default): no Cloudflare resource, no connector, no tunnel secret", async () => {
  for (const stack of ["production", "development"] as const) {
    const graph = await buildStack(stack, {}, FACTS, `${stack}-off`);
    assert.deepEqual(cloudflareResources(graph), []);
    assert.deepEqual([...graph.keys()].filter((k) => /cloudflare|cloudflared|tunnel/.test(k)), []);
  }
});

test("disabled: the Cloudflare SDK is not even loaded (so no Cloudflare plugin is asked for)", () => {
  const script = `
    const { buildStack } = require("./test/unit/mocks");
    const loaded = () => Object.keys(require.cache).filter((k) => k.includes("@pulumi/cloudflare")).length;
    (async () => {
      await buildStack("production", {}, undefined, "off");
      const off = loaded();
      await buildStack("production", { cloudflare: ${JSON.stringify(CF)} }, undefined, "on");
      console.log(JSON.stringify({ off, on: loaded() }));
    })();`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT }).toString().trim().split("\n").pop()!;
  const { off, on } = JSON.parse(out);
  assert.equal(off, 0, "a disabled stack loaded @pulumi/cloudflare");
  assert.ok(on > 0, "the check is not vacuous: an enabled stack loads it");
});

test("production: every Cloudflare resource, through the stack's own provider with its token as a secret", async () => {
  const graph = await buildStack("production", { cloudflare: CF });
  const provider = recorded(graph, "production-cloudflare-provider", TYPES.provider);
  assert.equal(provider.inputs.apiToken, API_TOKEN);
  assert.ok(provider.secretInputs.has("apiToken"), "the API token is a secret");
  const named = Object.fromEntries(cloudflareResources(graph).map((r) => [r.name, r.type]));
  assert.deepEqual(named, {
    "production-cloudflare-provider": TYPES.provider,
    "production-cloudflare-tunnel-cloudflared": TYPES.tunnel,
    "production-cloudflare-tunnel-config": TYPES.config,
    "production-cloudflare-tunnel-dns": TYPES.dns,
    "production-cloudflare-access-policy": TYPES.policy,
    "production-cloudflare-access-check-token": TYPES.serviceToken,
    "production-cloudflare-access-check-policy": TYPES.policy,
    "production-cloudflare-access-application": TYPES.application,
    "production-cloudflare-rate-limit-ruleset": TYPES.ruleset,
  });
  for (const r of cloudflareResources(graph).filter((r) => r.type !== TYPES.provider)) {
    assert.match(r.provider ?? "", /::production-cloudflare-provider::/, `${r.name} must use the explicit provider`);
  }
  const types = new Map([...graph.values()].map((r) => [r.name, r.type]));
  assert.equal(types.get("production-cloudflare"), "ai4artsed:cloudflare:Edge");
  assert.equal(types.get("production-cloudflare-tunnel"), "ai4artsed:cloudflare:Tunnel");
  assert.equal(types.get("production-cloudflare-access"), "ai4artsed:cloudflare:Access");
  assert.equal(types.get("production-cloudflare-connector"), "ai4artsed:cloudflare:Connector");
  assert.equal(types.get("production-cloudflare-rate-limit"), "ai4artsed:cloudflare:RateLimit");
});

test("tunnel: remotely managed, random secret marked secret; ingress to the app then 404; proxied CNAME", async () => {
  const graph = await buildStack("production", { cloudflare: CF });
  const secret = recorded(graph, "production-cloudflare-tunnel-secret", "random:index/randomBytes:RandomBytes");
  assert.equal(secret.inputs.length, 32, "a tunnel secret is at least 32 bytes");
  const tunnel = recorded(graph, "production-cloudflare-tunnel-cloudflared", TYPES.tunnel);
  assert.deepEqual(tunnel.inputs, { accountId: ACCOUNT, name: "ai4artsed-production", configSrc: "cloudflare", tunnelSecret: MOCK_TUNNEL_SECRET });
  assert.ok(tunnel.secretInputs.has("tunnelSecret"), "the tunnel secret is a secret");
  const config = recorded(graph, "production-cloudflare-tunnel-config", TYPES.config).inputs;
  assert.equal(config.tunnelId, "production-cloudflare-tunnel-cloudflared-id");
  assert.equal(config.source, "cloudflare");
  assert.deepEqual(config.config.ingresses, [
    {
      hostname: "lab.ai4artsed.org",
      service: "http://127.0.0.1:17801",
      originRequest: { connectTimeout: 60, keepAliveConnections: 100, keepAliveTimeout: 90, tcpKeepAlive: 30 },
    },
    { service: "http_status:404" },
  ]);
  const dns = recorded(graph, "production-cloudflare-tunnel-dns", TYPES.dns).inputs;
  assert.deepEqual(
    { zoneId: dns.zoneId, name: dns.name, type: dns.type, content: dns.content, proxied: dns.proxied, ttl: dns.ttl },
    { zoneId: ZONE, name: "lab.ai4artsed.org", type: "CNAME", content: "production-cloudflare-tunnel-cloudflared-id.cfargotunnel.com", proxied: true, ttl: 1 },
  );
});

test("connector: token read from the provider, sent on stdin as a secret into a 0600 file, never in command text", async () => {
  const graph = await buildStack("production", { cloudflare: CF });
  const call = invoked.filter((c) => c.token === "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken").pop();
  assert.ok(call, "the token comes from the provider's data source");
  assert.deepEqual(call.inputs, { accountId: ACCOUNT, tunnelId: "production-cloudflare-tunnel-cloudflared-id" });
  assert.match(call.provider ?? "", /::production-cloudflare-provider::/);
  const token = mockTunnelToken("production-cloudflare-tunnel-cloudflared-id");

  const tokenStep = recorded(graph, "production-cloudflare-connector-token", TYPES.command);
  assert.equal(tokenStep.inputs.stdin, token);
  assert.ok(tokenStep.secretInputs.has("stdin"), "the token on stdin is a secret");
  assert.match(scriptOf(tokenStep.inputs.create)!, /\nTARGET_FILE=\/etc\/ai4artsed\/cloudflared-ai4artsed-production\.token\nFILE_MODE=600\n/);

  for (const r of graph.values()) {
    if (r.type !== TYPES.command) continue;
    for (const text of [r.inputs.create, r.inputs.delete].filter(Boolean)) {
      assert.ok(!text.includes(token), `${r.name} carries the tunnel token in its command text`);
      assert.ok(!text.includes(MOCK_TUNNEL_SECRET), `${r.name} carries the tunnel secret in its command text`);
      assert.ok(!text.includes(API_TOKEN), `${r.name} carries the API token in its command text`);
    }
  }
});

test("connector: its own unit, installed then started as the tunnel's only connector; destroy removes only its own", async () => {
  const graph = await buildStack("production", { cloudflare: CF });
  const unit = recorded(graph, "production-cloudflare-connector-unit", TYPES.command);
  assert.match(scriptOf(unit.inputs.create)!, /\nTARGET_FILE=\/etc\/systemd\/system\/cloudflared-ai4artsed-production\.service\nFILE_MODE=644\n/);
  assert.equal(
    unit.inputs.stdin,
    renderConnectorUnit({
      unitName: "cloudflared-ai4artsed-production",
      description: "Cloudflare tunnel connector for AI4ArtsEd production",
      binaryPath: "/usr/bin/cloudflared",
      tokenFile: "/etc/ai4artsed/cloudflared-ai4artsed-production.token",
    }),
  );
  const install = scriptOf(recorded(graph, "production-cloudflare-connector-install", TYPES.command).inputs.create)!;
  for (const param of [
    "UNIT_NAME=cloudflared-ai4artsed-production.service",
    "TUNNEL_ID=production-cloudflare-tunnel-cloudflared-id",
    "PUBLIC_HOSTNAME=lab.ai4artsed.org",
    "TOKEN_FILE=/etc/ai4artsed/cloudflared-ai4artsed-production.token",
    "BINARY=/usr/bin/cloudflared",
    "PACKAGE_SOURCE=cloudflare-apt",
    "APT_REPOSITORY=https://pkg.cloudflare.com/cloudflared",
    "APT_KEY_URL=https://pkg.cloudflare.com/cloudflare-main.gpg",
  ]) {
    assert.ok(install.includes(`\n${param}\n`), `install lacks ${param}`);
  }
  assert.match(install, /\nUNIT_SHA256=[0-9a-f]{64}\n/);
  const remove = recorded(graph, "production-cloudflare-connector-remove", TYPES.command).inputs;
  assert.equal(remove.create, undefined);
  assert.match(scriptOf(remove.delete)!, /\nUNIT_NAME=cloudflared-ai4artsed-production\.service\nTOKEN_FILE=\/etc\/ai4artsed\/cloudflared-ai4artsed-production\.token\n/);
  for (const step of ["token", "unit", "install"]) {
    assert.equal(recorded(graph, `production-cloudflare-connector-${step}`).inputs.delete, undefined, `${step} must not undo itself on replace`);
  }
});

test("connector: an already-installed binary instead of the apt repository", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, connector: { packageSource: "installed", binaryPath: "/usr/local/bin/cloudflared" } } }, FACTS, "own-binary");
  const install = scriptOf(recorded(graph, "own-binary-cloudflare-connector-install").inputs.create)!;
  assert.ok(install.includes("\nPACKAGE_SOURCE=installed\n") && install.includes("\nBINARY=/usr/local/bin/cloudflared\n"));
  assert.match(recorded(graph, "own-binary-cloudflare-connector-unit").inputs.stdin, /\nExecStart=\/usr\/local\/bin\/cloudflared tunnel /);
});

test("Access: self-hosted application for the hostname, allow policy with emails, domains and country DE", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, access: { ...CF.access, sessionDuration: "12h" } } });
  const policy = recorded(graph, "production-cloudflare-access-policy", TYPES.policy).inputs;
  assert.equal(policy.accountId, ACCOUNT);
  assert.equal(policy.decision, "allow");
  assert.deepEqual(policy.includes, [{ email: { email: "teacher@example.org" } }, { emailDomain: { domain: "school.example" } }]);
  assert.deepEqual(policy.requires, [{ geo: { countryCode: "DE" } }]);
  assert.equal(policy.sessionDuration, "12h");
  const app = recorded(graph, "production-cloudflare-access-application", TYPES.application).inputs;
  assert.equal(app.type, "self_hosted");
  assert.equal(app.domain, "lab.ai4artsed.org");
  assert.deepEqual(app.destinations, [{ type: "public", uri: "lab.ai4artsed.org" }]);
  assert.deepEqual(app.policies, [
    { id: "production-cloudflare-access-policy-id", precedence: 1 },
    { id: "production-cloudflare-access-check-policy-id", precedence: 2 },
  ]);
  assert.equal(app.sessionDuration, "12h");
  assert.equal(app.accountId, ACCOUNT);
});

test("Access: the after-deploy check's service token, admitted by a non-identity policy, is a secret output", async () => {
  const graph = await buildStack("production", { cloudflare: CF }, FACTS, "checktoken");
  const token = recorded(graph, "checktoken-cloudflare-access-check-token", TYPES.serviceToken).inputs;
  assert.deepEqual(token, { accountId: ACCOUNT, name: "ai4artsed-production after-deploy check", duration: "8760h" });
  const policy = recorded(graph, "checktoken-cloudflare-access-check-policy", TYPES.policy).inputs;
  assert.equal(policy.decision, "non_identity");
  assert.deepEqual(policy.includes, [{ serviceToken: { tokenId: "checktoken-cloudflare-access-check-token-id" } }]);
  assert.equal(policy.requires, undefined, "a service token has no country");

  const { environment, config } = parseStackConfig("production", rawConfig({ cloudflare: CF }), SECRET_SECTIONS);
  const env = new Environment("checktoken-out", { environment, stack: "production", config, facts: FACTS, connection: serverConnection(config.server, config.providers, FACTS.layoutId) });
  assert.equal(await pulumi.isSecret(env.accessCheckToken!), true);
  assert.deepEqual(await new Promise((resolve) => env.accessCheckToken!.apply(resolve)), MOCK_CHECK_TOKEN);
});

test("Access: several countries go through a group (a policy's requires are all-of)", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, access: { ...CF.access, countries: ["DE", "AT"] } } }, FACTS, "dach");
  const group = recorded(graph, "dach-cloudflare-access-countries", TYPES.group).inputs;
  assert.deepEqual(group.includes, [{ geo: { countryCode: "DE" } }, { geo: { countryCode: "AT" } }]);
  assert.deepEqual(recorded(graph, "dach-cloudflare-access-policy").inputs.requires, [{ group: { id: "dach-cloudflare-access-countries-id" } }]);
});

test("Access token check at the connector when a team name is set", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, access: { ...CF.access, teamName: "ai4artsed" } } }, FACTS, "checked");
  const ingress = recorded(graph, "checked-cloudflare-tunnel-config").inputs.config.ingresses;
  assert.deepEqual(ingress[0].originRequest.access, { required: true, teamName: "ai4artsed", audTags: [mockAccessAud("checked-cloudflare-access-application")] });
  assert.deepEqual(ingress[1], { service: "http_status:404" });
});

test("rate limiting: production owns the zone's http_ratelimit ruleset; numbers from config", async () => {
  const graph = await buildStack("production", { cloudflare: CF });
  const ruleset = recorded(graph, "production-cloudflare-rate-limit-ruleset", TYPES.ruleset).inputs;
  assert.deepEqual({ zoneId: ruleset.zoneId, kind: ruleset.kind, phase: ruleset.phase }, { zoneId: ZONE, kind: "zone", phase: "http_ratelimit" });
  assert.equal(ruleset.rules.length, 1);
  assert.equal(ruleset.rules[0].expression, '(http.host eq "lab.ai4artsed.org")');
  assert.deepEqual(ruleset.rules[0].ratelimit, { characteristics: ["cf.colo.id", "ip.src"], period: 60, requestsPerPeriod: 100, mitigationTimeout: 600 });

  const tuned = await buildStack(
    "production",
    { cloudflare: { ...CF, rateLimit: { requestsPerPeriod: "30", periodSeconds: "10", mitigationTimeoutSeconds: "10", expression: '(http.request.uri.path contains "/api/")' } } },
    FACTS,
    "tuned",
  );
  const rule = recorded(tuned, "tuned-cloudflare-rate-limit-ruleset").inputs.rules[0];
  assert.equal(rule.expression, '(http.request.uri.path contains "/api/")');
  assert.deepEqual(rule.ratelimit, { characteristics: ["cf.colo.id", "ip.src"], period: 10, requestsPerPeriod: 30, mitigationTimeout: 10 });

  const off = await buildStack("production", { cloudflare: { ...CF, rateLimit: { ownedByThisStack: "false" } } }, FACTS, "unowned");
  assert.equal(off.get("unowned-cloudflare-rate-limit-ruleset"), undefined);
});

test("development: its own hostname, tunnel, Access application and policy, unit and port; no ruleset", async () => {
  const graph = await buildStack("development", { cloudflare: DEV_CF });
  assert.equal(recorded(graph, "development-cloudflare-tunnel-cloudflared").inputs.name, "ai4artsed-development");
  const ingress = recorded(graph, "development-cloudflare-tunnel-config").inputs.config.ingresses;
  assert.equal(ingress[0].hostname, "lab-dev.ai4artsed.org");
  assert.equal(ingress[0].service, "http://127.0.0.1:17802");
  assert.equal(recorded(graph, "development-cloudflare-tunnel-dns").inputs.name, "lab-dev.ai4artsed.org");
  assert.equal(recorded(graph, "development-cloudflare-access-application").inputs.domain, "lab-dev.ai4artsed.org");
  assert.equal(recorded(graph, "development-cloudflare-access-policy").inputs.name, "ai4artsed-development allow");
  assert.match(recorded(graph, "development-cloudflare-connector-unit").inputs.create, /cloudflared-ai4artsed-development\.service/);
  assert.equal(graph.get("development-cloudflare-rate-limit-ruleset"), undefined, "development does not own the zone's ruleset by default");
});

test("an app port change moves only the ingress service URL on the Cloudflare side", async () => {
  const before = await buildStack("production", { cloudflare: CF }, FACTS, "port-a");
  const after = await buildStack("production", { cloudflare: CF, app: { port: 17811 } }, FACTS, "port-b");
  const text = (r: Recorded) => JSON.stringify(r.inputs).replace(/port-[ab]/g, "");
  const changed = cloudflareResources(before)
    .filter((r) => text(r) !== text(after.get(r.name.replace(/^port-a/, "port-b"))!))
    .map((r) => r.name.replace(/^port-a-/, ""));
  assert.deepEqual(changed, ["cloudflare-tunnel-config"]);
  assert.equal(recorded(after, "port-b-cloudflare-tunnel-config").inputs.config.ingresses[0].service, "http://127.0.0.1:17811");
});

test("publicUrl is https://<hostname> when enabled, absent when disabled", async () => {
  const { environment, config } = parseStackConfig("production", rawConfig({ cloudflare: CF }), SECRET_SECTIONS);
  const env = new Environment("url-on", { environment, stack: "production", config, facts: FACTS, connection: serverConnection(config.server, config.providers, FACTS.layoutId) });
  assert.equal(await new Promise((resolve) => env.publicUrl!.apply(resolve)), "https://lab.ai4artsed.org");
  const off = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  const disabled = new Environment("url-off", { ...off, stack: "production", facts: FACTS, connection: serverConnection(off.config.server, off.config.providers, FACTS.layoutId) });
  assert.equal(disabled.publicUrl, undefined);
  assert.equal(disabled.accessCheckToken, undefined);
  await new Promise((resolve) => pulumi.output(env.url).apply(resolve));
});

// ---------- config errors ----------

const without = (key: string) => Object.fromEntries(Object.entries(CF).filter(([k]) => k !== key));

const INVALID: Array<[string, "production" | "development", object, string, Set<string>?]> = [
  ["enabled without zoneId", "production", without("zoneId"), "ai4artsed:cloudflare.zoneId"],
  ["enabled without accountId", "production", without("accountId"), "ai4artsed:cloudflare.accountId"],
  ["enabled without apiToken", "production", without("apiToken"), "ai4artsed:cloudflare.apiToken"],
  ["development enabled without its own hostname", "development", CF, "ai4artsed:cloudflare.hostname"],
  ["Access with neither emails nor domains", "production", { ...CF, access: {} }, "ai4artsed:cloudflare.access.allowedEmails"],
  ["API token in plain text", "production", CF, "ai4artsed:cloudflare.apiToken", new Set(["server"])],
  ["rate limit set on a stack that does not own the ruleset", "development", { ...DEV_CF, rateLimit: { requestsPerPeriod: 50 } }, "ai4artsed:cloudflare.rateLimit.ownedByThisStack"],
  ["zone id not an id", "production", { ...CF, zoneId: "example.org" }, "ai4artsed:cloudflare.zoneId"],
  ["hostname with upper case", "production", { ...CF, hostname: "Lab.AI4ArtsEd.org" }, "ai4artsed:cloudflare.hostname"],
  ["country not a code", "production", { ...CF, access: { ...CF.access, countries: ["Germany"] } }, "ai4artsed:cloudflare.access.countries[0]"],
  ["period Cloudflare does not offer", "production", { ...CF, rateLimit: { periodSeconds: 45 } }, "ai4artsed:cloudflare.rateLimit.periodSeconds"],
  ["unknown package source", "production", { ...CF, connector: { packageSource: "snap" } }, "ai4artsed:cloudflare.connector.packageSource"],
  ["misspelt setting (the section is strict now)", "production", { ...CF, zoneID: ZONE }, "ai4artsed:cloudflare.zoneID"],
];

for (const [title, stack, cloudflare, key, secrets] of INVALID) {
  test(`Cloudflare config refused with its key named: ${title}`, () => {
    assert.throws(
      () => parseStackConfig(stack, rawConfig({ cloudflare }), secrets ?? SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        const line = err.problems.find((p) => p.startsWith(key));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.match(line!, /pulumi config (set|rm)/, `no fix given:\n${line}`);
        return true;
      },
    );
  });
}

test("the rate-limit ownership error explains the one-ruleset rule and that the other stack is unseen", () => {
  assert.throws(
    () => parseStackConfig("development", rawConfig({ cloudflare: { ...DEV_CF, rateLimit: { requestsPerPeriod: 50 } } }), SECRET_SECTIONS),
    /ownedByThisStack: is false on this stack \(the default for development\), yet cloudflare\.rateLimit\.requestsPerPeriod is set\. A zone holds one rate-limit \(http_ratelimit\) ruleset and this check cannot see the other stack/,
  );
});

test("valid Cloudflare configs: disabled needs nothing; development may own the ruleset when it says so", () => {
  assert.equal(parseStackConfig("production", rawConfig({ cloudflare: { enabled: "false" } }), SECRET_SECTIONS).config.cloudflare.enabled, false);
  const { config } = parseStackConfig("production", rawConfig({ cloudflare: CF }), SECRET_SECTIONS);
  assert.equal(config.cloudflare.hostname, "lab.ai4artsed.org");
  assert.deepEqual(config.cloudflare.access.countries, ["DE"]);
  assert.equal(config.cloudflare.access.sessionDuration, "24h");
  assert.equal(config.cloudflare.rateLimit.ownedByThisStack, true);
  assert.equal(config.cloudflare.connector.packageSource, "cloudflare-apt");
  const dev = parseStackConfig("development", rawConfig({ cloudflare: { ...DEV_CF, rateLimit: { ownedByThisStack: true, requestsPerPeriod: 50 } } }), SECRET_SECTIONS);
  assert.equal(dev.config.cloudflare.rateLimit.ownedByThisStack, true);
  assert.equal(parseStackConfig("development", rawConfig({ cloudflare: DEV_CF }), SECRET_SECTIONS).config.cloudflare.rateLimit.ownedByThisStack, false);
});
