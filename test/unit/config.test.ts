import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseStackConfig, RawConfig } from "../../config/load";
import { writablePathsOf } from "../../config/schema";
import { rawConfig, SECRET_SECTIONS } from "./fixtures";

test("production defaults follow the seed and fit the real app", () => {
  const { environment, config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  assert.equal(environment, "production");
  assert.equal(config.app.installDir, "/opt/ai4artsed-production");
  assert.equal(config.app.branch, "main");
  assert.equal(config.app.port, 17801);
  assert.equal(config.app.debug, false);
  assert.equal(config.app.logLevel, "INFO");
  assert.equal(config.app.serviceName, "ai4artsed-production");
  assert.equal(config.app.healthPath, "/api/schema/info");
  assert.equal(config.app.requirementsFile, "requirements.txt");
  assert.equal(config.app.frontendDir, "public/ai4artsed-frontend");
  assert.equal(config.app.frontendInstallCommand, "npm ci");
  assert.deepEqual(config.host.journald, { manage: true, systemMaxUse: "1G", systemKeepFree: "2G", maxRetentionSec: "1month" });
  assert.equal(config.server.port, 22);
  assert.equal(config.server.user, "root");
  assert.ok(config.app.sharedPaths.includes("exports/"));
});

test("the real app's runtime libraries, and its tool dirs beside the install dir, are defaults", () => {
  const { config } = parseStackConfig("production", rawConfig(), SECRET_SECTIONS);
  for (const pkg of ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "libcairo2"]) assert.ok(config.app.systemPackages.includes(pkg), pkg);
  assert.ok(!config.app.systemPackages.some((p) => p.endsWith("-dev")), "runtime packages only");
  assert.deepEqual(writablePathsOf(config.app), ["/opt/kohya_ss_new/dataset", "/opt/kohya_ss_new/logs", "/opt/SwarmUI/Models/loras"]);
  const elsewhere = parseStackConfig("development", rawConfig({ app: { installDir: "/srv/ai/ai4artsed-dev" } }), SECRET_SECTIONS).config;
  assert.deepEqual(writablePathsOf(elsewhere.app), ["/srv/ai/kohya_ss_new/dataset", "/srv/ai/kohya_ss_new/logs", "/srv/ai/SwarmUI/Models/loras"], "they follow AI_TOOLS_BASE");
  const set = parseStackConfig("production", rawConfig({ app: { writablePaths: ["/data/loras"] } }), SECRET_SECTIONS).config;
  assert.deepEqual(writablePathsOf(set.app), ["/data/loras"]);
  assert.ok(config.app.sharedPaths.includes("devserver/settings_password.key"));
  assert.ok(config.app.sharedPaths.includes("devserver/openrouter.key"), "API key files the settings page writes");
});

test("development defaults: develop, 17802, debug logging, journald left to production", () => {
  const { environment, config } = parseStackConfig("development", rawConfig(), SECRET_SECTIONS);
  assert.equal(environment, "development");
  assert.equal(config.app.installDir, "/opt/ai4artsed-development");
  assert.equal(config.app.branch, "develop");
  assert.equal(config.app.port, 17802);
  assert.equal(config.app.debug, true);
  assert.equal(config.app.logLevel, "DEBUG");
  assert.equal(config.host.journald.manage, false);
});

test("a stack of another name says which environment it is", () => {
  const { environment, config } = parseStackConfig("lab-test", rawConfig({ environment: "development" }), SECRET_SECTIONS);
  assert.equal(environment, "development");
  assert.equal(config.app.port, 17802);
});

test("string values from `pulumi config set --path` are coerced", () => {
  const { config } = parseStackConfig("production", rawConfig({ app: { port: "17811", debug: "true" }, server: { port: "2222" } }), SECRET_SECTIONS);
  assert.equal(config.app.port, 17811);
  assert.equal(config.app.debug, true);
  assert.equal(config.server.port, 2222);
});

/** Each case: a stack, its raw config, the key the message must name, and the secrets it holds. */
const INVALID: Array<[string, string, RawConfig, string, Set<string>?]> = [
  ["missing server section", "production", { app: { repoUrl: "https://example.org/x.git" } }, "ai4artsed:server:"],
  ["missing address", "production", rawConfig({ server: { address: undefined } }), "ai4artsed:server.address"],
  ["address with spaces", "production", rawConfig({ server: { address: "lab server" } }), "ai4artsed:server.address"],
  ["SSH port out of range", "production", rawConfig({ server: { port: 70000 } }), "ai4artsed:server.port"],
  ["not a private key", "production", rawConfig({ server: { privateKey: "hunter2" } }), "ai4artsed:server.privateKey"],
  ["private key in plain text", "production", rawConfig(), "ai4artsed:server.privateKey", new Set()],
  ["production without pinned host key", "production", rawConfig({ server: { hostKey: undefined } }), "ai4artsed:server.hostKey"],
  ["malformed host key", "development", rawConfig({ server: { hostKey: "AAAA" } }), "ai4artsed:server.hostKey"],
  ["missing repo URL", "production", rawConfig({ app: { repoUrl: undefined } }), "ai4artsed:app.repoUrl"],
  ["repo URL not a URL", "production", rawConfig({ app: { repoUrl: "github" } }), "ai4artsed:app.repoUrl"],
  ["branch with ..", "production", rawConfig({ app: { branch: "main..x" } }), "ai4artsed:app.branch"],
  ["short revision", "production", rawConfig({ app: { revision: "abc123" } }), "ai4artsed:app.revision"],
  ["relative install dir", "production", rawConfig({ app: { installDir: "opt/ai4artsed" } }), "ai4artsed:app.installDir"],
  ["install dir at /", "production", rawConfig({ app: { installDir: "/opt" } }), "ai4artsed:app.installDir"],
  ["privileged app port", "production", rawConfig({ app: { port: 80 } }), "ai4artsed:app.port"],
  ["port is not a number", "production", rawConfig({ app: { port: "seventeen" } }), "ai4artsed:app.port"],
  ["service user root", "production", rawConfig({ app: { serviceUser: "root" } }), "ai4artsed:app.serviceUser"],
  ["health path without slash", "production", rawConfig({ app: { healthPath: "api/health" } }), "ai4artsed:app.healthPath"],
  ["keep only one release", "production", rawConfig({ app: { keepReleases: 1 } }), "ai4artsed:app.keepReleases"],
  ["requirements path escaping the repo", "production", rawConfig({ app: { requirementsFile: "../x.txt" } }), "ai4artsed:app.requirementsFile"],
  ["unknown log level", "production", rawConfig({ app: { logLevel: "LOUD" } }), "ai4artsed:app.logLevel"],
  ["environment overriding PORT", "production", rawConfig({ app: { environment: { PORT: "1" } } }), "ai4artsed:app.environment"],
  ["environment value with newline", "production", rawConfig({ app: { environment: { A: "x\ny" } } }), "ai4artsed:app.environment.A"],
  ["secrets in plain text", "production", rawConfig({ app: { secrets: { OPENAI_API_KEY: "sk" } } }), "ai4artsed:app.secrets", new Set(["server"])],
  ["SECRET_KEY in plain text", "production", rawConfig({ app: { secretKey: "k".repeat(40) } }), "ai4artsed:app.secretKey", new Set(["server"])],
  ["SECRET_KEY too short", "production", rawConfig({ app: { secretKey: "short" } }), "ai4artsed:app.secretKey"],
  ["misspelt setting", "production", rawConfig({ app: { prot: 17801 } }), "ai4artsed:app.prot"],
  ["journald size without unit", "production", rawConfig({ host: { journald: { systemMaxUse: "lots" } } }), "ai4artsed:host.journald.systemMaxUse"],
  ["firewall denying SSH", "production", rawConfig({ host: { firewall: { denyPorts: [22] } } }), "ai4artsed:host.firewall.denyPorts"],
  ["firewall denying the other stack's app port", "production", rawConfig({ host: { firewall: { denyPorts: [17802] } } }), "ai4artsed:host.firewall.denyPorts"],
  ["firewall denying its own app port twice", "development", rawConfig({ app: { port: 18000 }, host: { firewall: { denyPorts: [18000] } } }), "ai4artsed:host.firewall.denyPorts"],
  ["app port equal to SSH port", "production", rawConfig({ server: { port: 2222 }, app: { port: 2222 } }), "ai4artsed:app.port"],
  ["unknown environment", "staging", rawConfig(), "ai4artsed:environment"],
  ["system package that is no Debian name", "production", rawConfig({ app: { systemPackages: ["libpango 1.0"] } }), "ai4artsed:app.systemPackages[0]"],
  ["writable path inside the install dir", "production", rawConfig({ app: { writablePaths: ["/opt/ai4artsed-production/exports"] } }), "ai4artsed:app.writablePaths[0]"],
  ["writable path in a system tree", "development", rawConfig({ app: { writablePaths: ["/opt/kohya/dataset", "/etc/ai4artsed"] } }), "ai4artsed:app.writablePaths[1]"],
];

for (const [title, stack, raw, key, secrets] of INVALID) {
  test(`invalid config is refused with its key named: ${title}`, () => {
    assert.throws(
      () => parseStackConfig(stack, raw, secrets ?? SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        assert.match(err.message, /nothing was changed on the server/);
        const line = err.problems.find((p) => p.startsWith(key));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.match(line!, /pulumi config (set|rm)/, `no fix given:\n${line}`);
        return true;
      },
    );
  });
}

test("every problem is listed at once", () => {
  const raw = rawConfig({ server: { port: 0, hostKey: undefined }, app: { port: 1, branch: "..", keepReleases: 0 } });
  assert.throws(
    () => parseStackConfig("production", raw, SECRET_SECTIONS),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      for (const key of ["server.port", "server.hostKey", "app.port", "app.branch", "app.keepReleases"]) {
        assert.ok(err.problems.some((p) => p.startsWith(`ai4artsed:${key}:`)), `${key} missing in\n${err.message}`);
      }
      return true;
    },
  );
});

test("a list setting's example sets its first entry", () => {
  assert.throws(
    () => parseStackConfig("production", rawConfig({ host: { firewall: { denyPorts: "5173" } } }), SECRET_SECTIONS),
    (err: unknown) => err instanceof ConfigError && err.message.includes("pulumi config set --path host.firewall.denyPorts[0] 5173 -s production"),
  );
});

test("a message shows the bad value and an example of a good one", () => {
  assert.throws(
    () => parseStackConfig("production", rawConfig({ app: { port: 99999 } }), SECRET_SECTIONS),
    /ai4artsed:app\.port: must be a whole number from 1024 to 65535 \(got "99999"\)\. Example: pulumi config set --path app\.port 17801 -s production/,
  );
});
