/**
 * The monitoring dashboards through the Cloudflare tunnel, behind Access (host.monitoring.hostname),
 * under mocks: the Cloudflare API is not reachable from tests, so these check the inputs the
 * program hands the provider, not what Cloudflare does with them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig } from "../../config/load";
import { defaultDashboardsHostname } from "../../config/defaults";
import { serverConnection } from "../../components/steps/connection";
import { Environment } from "../../components/environment";
import { MONITORING_PORTS } from "../../components/operations/monitoring";
import { DEFAULT_ORIGIN, tunnelIngress } from "../../components/cloudflare/tunnel";
import { buildStack, recorded, mockAccessAud, Recorded, registered } from "./mocks";
import { FACTS, rawConfig, SECRET_SECTIONS, TEST_CLOUDFLARE } from "./fixtures";

const CF = TEST_CLOUDFLARE;
const MONITORING = { monitoring: { enabled: true } };
const PROMETHEUS = `http://127.0.0.1:${MONITORING_PORTS.prometheus}`;

function cloudflareResources(graph: Map<string, Recorded>): Recorded[] {
  return [...graph.values()].filter((r) => r.type.startsWith("cloudflare:") || r.type === "pulumi:providers:cloudflare");
}

/**
 * A stack's graph and what each resource waits for (its dependsOn), by name: the mocks do not see
 * dependsOn, a transformation on the environment (which its children inherit) does.
 */
async function buildWithDependencies(overrides: Parameters<typeof rawConfig>[0], name: string) {
  const dependsOn = new Map<string, string[]>();
  const record: pulumi.ResourceTransformation = ({ name: resourceName, opts }) => {
    const waitsFor = (opts.dependsOn ?? []) as pulumi.Resource[];
    dependsOn.set(resourceName, [waitsFor].flat().map((r) => (r as unknown as { __name: string }).__name));
    return undefined;
  };
  const { environment, config } = parseStackConfig("production", rawConfig(overrides), SECRET_SECTIONS);
  const env = new Environment(
    name,
    { environment, stack: "production", config, facts: FACTS, connection: serverConnection(config.server, config.providers, FACTS.layoutId) },
    { transformations: [record] },
  );
  await new Promise((resolve) => pulumi.all([env.url, env.revision, env.releasePath, env.serviceName]).apply(resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const graph = new Map([...registered].filter(([key]) => key.startsWith(`${name}-`)));
  return { graph, dependsOn, env };
}

// ---------- the setting ----------

test("dashboards' hostname: by default beside the app's, one level below the zone; a set one wins; only with Cloudflare and the monitoring on", () => {
  assert.equal(defaultDashboardsHostname("lab.ai4artsed.org"), "lab-monitoring.ai4artsed.org");
  assert.equal(defaultDashboardsHostname("lab-dev.ai4artsed.org"), "lab-dev-monitoring.ai4artsed.org");
  const hostnameOf = (stack: "production" | "development", overrides: Parameters<typeof rawConfig>[0]) =>
    parseStackConfig(stack, rawConfig(overrides), SECRET_SECTIONS).config.host.monitoring.hostname;
  assert.equal(hostnameOf("production", { cloudflare: CF, host: MONITORING }), "lab-monitoring.ai4artsed.org");
  assert.equal(hostnameOf("development", { cloudflare: { ...CF, hostname: "lab-dev.ai4artsed.org" }, host: MONITORING }), "lab-dev-monitoring.ai4artsed.org");
  assert.equal(hostnameOf("production", { cloudflare: CF, host: { monitoring: { enabled: true, hostname: "lab-prometheus.ai4artsed.org" } } }), "lab-prometheus.ai4artsed.org");
  assert.equal(hostnameOf("production", { host: MONITORING }), undefined, "without Cloudflare the dashboards stay behind the SSH tunnel");
  assert.equal(hostnameOf("production", { cloudflare: CF }), undefined, "without the monitoring there are no dashboards");
});

const INVALID: Array<[string, Parameters<typeof rawConfig>[0], string, RegExp]> = [
  [
    "set while the monitoring is off",
    { cloudflare: CF, host: { monitoring: { hostname: "lab-monitoring.ai4artsed.org" } } },
    "ai4artsed:host.monitoring.enabled",
    /is false on this stack, yet host\.monitoring\.hostname is set: the dashboards get a hostname only on the stack that runs them\. Remove it \('pulumi config rm --path host\.monitoring\.hostname'\)/,
  ],
  [
    "set while Cloudflare is off",
    { host: { monitoring: { enabled: true, hostname: "lab-monitoring.ai4artsed.org" } } },
    "ai4artsed:cloudflare.enabled",
    /is false on this stack, yet host\.monitoring\.hostname is set: the dashboards get a hostname only through the Cloudflare tunnel, behind Access/,
  ],
  [
    "below the app's hostname (no Universal SSL certificate)",
    { cloudflare: CF, host: { monitoring: { enabled: true, hostname: "monitoring.lab.ai4artsed.org" } } },
    "ai4artsed:host.monitoring.hostname",
    /is monitoring\.lab\.ai4artsed\.org, which is not beside cloudflare\.hostname \(lab\.ai4artsed\.org\): use a name in ai4artsed\.org, e\.g\. lab-monitoring\.ai4artsed\.org\. Cloudflare's free Universal SSL certificate covers only names one level below the zone/,
  ],
  [
    "in another zone",
    { cloudflare: CF, host: { monitoring: { enabled: true, hostname: "lab-monitoring.example.org" } } },
    "ai4artsed:host.monitoring.hostname",
    /not beside cloudflare\.hostname/,
  ],
  [
    "the app's own hostname",
    { cloudflare: CF, host: { monitoring: { enabled: true, hostname: "lab.ai4artsed.org" } } },
    "ai4artsed:host.monitoring.hostname",
    /must differ from cloudflare\.hostname \(lab\.ai4artsed\.org\), which serves the app; use e\.g\. lab-monitoring\.ai4artsed\.org/,
  ],
  [
    "not a DNS name in lower case",
    { cloudflare: CF, host: { monitoring: { enabled: true, hostname: "Lab-Monitoring.ai4artsed.org" } } },
    "ai4artsed:host.monitoring.hostname",
    /must be a DNS name beside cloudflare\.hostname in lower case \(got "Lab-Monitoring\.ai4artsed\.org"\)/,
  ],
];

for (const [title, overrides, key, message] of INVALID) {
  test(`dashboards' hostname refused before anything runs, its key and the fix named: ${title}`, () => {
    assert.throws(
      () => parseStackConfig("production", rawConfig(overrides), SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        const line = err.problems.find((p) => p.startsWith(`${key}:`));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.equal(err.problems.length, 1, `one mistake, one problem:\n${err.message}`);
        assert.match(line!, message);
        assert.match(line!, /pulumi config (set|rm)/, `no fix given:\n${line}`);
        return true;
      },
    );
  });
}

// ---------- the tunnel and Access under mocks ----------

test("ingress: the dashboards' hostname to Prometheus on loopback after the app's, the catch-all 404 last", async () => {
  assert.deepEqual(
    tunnelIngress(
      [
        { hostname: "lab.ai4artsed.org", port: 17801 },
        { hostname: "lab-monitoring.ai4artsed.org", port: MONITORING_PORTS.prometheus },
      ],
      DEFAULT_ORIGIN,
    ).map((rule) => ("hostname" in rule ? [rule.hostname, rule.service] : [rule.service])),
    [["lab.ai4artsed.org", "http://127.0.0.1:17801"], ["lab-monitoring.ai4artsed.org", PROMETHEUS], ["http_status:404"]],
  );
  const graph = await buildStack("production", { cloudflare: CF, host: MONITORING }, FACTS, "dash");
  assert.deepEqual(recorded(graph, "dash-cloudflare-tunnel-config").inputs.config.ingresses, [
    { hostname: "lab.ai4artsed.org", service: "http://127.0.0.1:17801", originRequest: DEFAULT_ORIGIN },
    { hostname: "lab-monitoring.ai4artsed.org", service: PROMETHEUS, originRequest: DEFAULT_ORIGIN },
    { service: "http_status:404" },
  ]);
});

test("Access: an application for the dashboards' hostname, admitted by the app's allow policy alone (no check token)", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, access: { ...CF.access, sessionDuration: "8h" } }, host: MONITORING }, FACTS, "dash-access");
  const app = recorded(graph, "dash-access-cloudflare-access-dashboards-application");
  assert.equal(app.type, "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication");
  assert.match(app.provider ?? "", /::dash-access-cloudflare-provider::/, "through the stack's own provider");
  assert.deepEqual(app.inputs, {
    accountId: CF.accountId,
    name: "ai4artsed-production monitoring (lab-monitoring.ai4artsed.org)",
    type: "self_hosted",
    domain: "lab-monitoring.ai4artsed.org",
    destinations: [{ type: "public", uri: "lab-monitoring.ai4artsed.org" }],
    sessionDuration: "8h",
    policies: [{ id: "dash-access-cloudflare-access-policy-id", precedence: 1 }],
    appLauncherVisible: false,
    httpOnlyCookieAttribute: true,
  });
  const policy = recorded(graph, "dash-access-cloudflare-access-policy").inputs;
  assert.equal(policy.decision, "allow");
  assert.deepEqual(policy.includes, [{ email: { email: "teacher@example.org" } }, { emailDomain: { domain: "school.example" } }]);
  assert.deepEqual(policy.requires, [{ geo: { countryCode: "DE" } }]);
  const policies = [...graph.values()].filter((r) => r.type === "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy").map((r) => r.name);
  assert.deepEqual(policies.sort(), ["dash-access-cloudflare-access-check-policy", "dash-access-cloudflare-access-policy"], "one allow policy for both hostnames");
});

test("the dashboards' CNAME: proxied to the tunnel, created only after their Access application", async () => {
  const { graph, dependsOn } = await buildWithDependencies({ cloudflare: CF, host: MONITORING }, "dash-dns");
  const dns = recorded(graph, "dash-dns-cloudflare-tunnel-dashboards-dns");
  assert.equal(dns.type, "cloudflare:index/dnsRecord:DnsRecord");
  const { zoneId, name, type, content, proxied, ttl } = dns.inputs;
  assert.deepEqual(
    { zoneId, name, type, content, proxied, ttl },
    { zoneId: CF.zoneId, name: "lab-monitoring.ai4artsed.org", type: "CNAME", content: "dash-dns-cloudflare-tunnel-cloudflared-id.cfargotunnel.com", proxied: true, ttl: 1 },
  );
  assert.deepEqual(dependsOn.get("dash-dns-cloudflare-tunnel-dashboards-dns"), ["dash-dns-cloudflare-access-dashboards-application"]);
  assert.deepEqual(dependsOn.get("dash-dns-cloudflare-tunnel-dns"), ["dash-dns-cloudflare-access"], "the app's record waits for Access as before");
});

test("a team name: cloudflared checks each hostname's own Access token", async () => {
  const graph = await buildStack("production", { cloudflare: { ...CF, access: { ...CF.access, teamName: "ai4artsed" } }, host: MONITORING }, FACTS, "dash-team");
  const [app, dashboards, last] = recorded(graph, "dash-team-cloudflare-tunnel-config").inputs.config.ingresses;
  assert.deepEqual(app.originRequest.access, { required: true, teamName: "ai4artsed", audTags: [mockAccessAud("dash-team-cloudflare-access-application")] });
  assert.deepEqual(dashboards.originRequest.access, { required: true, teamName: "ai4artsed", audTags: [mockAccessAud("dash-team-cloudflare-access-dashboards-application")] });
  assert.deepEqual(last, { service: "http_status:404" });
});

test("dashboardsUrl: https://<hostname> with Cloudflare and the monitoring on, absent otherwise", async () => {
  const { env } = await buildWithDependencies({ cloudflare: CF, host: MONITORING }, "dash-url");
  assert.equal(await new Promise((resolve) => env.dashboardsUrl!.apply(resolve)), "https://lab-monitoring.ai4artsed.org");
  const { env: off } = await buildWithDependencies({ cloudflare: CF }, "dash-url-off");
  assert.equal(off.dashboardsUrl, undefined);
});

test("monitoring off: none of it, and the Cloudflare resources exactly as before; on, only the ingress changes of what was there", async () => {
  const before = await buildStack("production", { cloudflare: CF }, FACTS, "dash-a");
  assert.deepEqual([...before.keys()].filter((k) => k.includes("dashboards")), []);
  assert.equal(recorded(before, "dash-a-cloudflare-tunnel-config").inputs.config.ingresses.length, 2, "the app's rule and the 404");

  const after = await buildStack("production", { cloudflare: CF, host: MONITORING }, FACTS, "dash-b");
  const text = (r: Recorded) => JSON.stringify(r.inputs).replace(/dash-[ab]/g, "");
  const changed = cloudflareResources(before)
    .filter((r) => text(r) !== text(recorded(after, r.name.replace(/^dash-a/, "dash-b"))))
    .map((r) => r.name.replace(/^dash-a-/, ""));
  assert.deepEqual(changed, ["cloudflare-tunnel-config"]);
  const added = cloudflareResources(after)
    .map((r) => r.name.replace(/^dash-b-/, ""))
    .filter((name) => !before.has(`dash-a-${name}`));
  assert.deepEqual(added.sort(), ["cloudflare-access-dashboards-application", "cloudflare-tunnel-dashboards-dns"]);

  const monitoringOnly = await buildStack("production", { host: MONITORING }, FACTS, "dash-c");
  assert.deepEqual(cloudflareResources(monitoringOnly), [], "without Cloudflare the dashboards stay behind the SSH tunnel");
});
