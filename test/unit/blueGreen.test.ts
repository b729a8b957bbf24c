import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderBridgeService, renderBridgeSocket, renderEgressService, renderProxyConfig, renderProxyUnit } from "../../components/render/blueGreenUnits";
import { servingUnitOf } from "../../components/service/blueGreenService";
import { stepResultOf } from "../../components/steps/remoteScript";
import { blueGreenNames, colorUnits, serviceObservationParams, unitFilesOf } from "../../lib/paths";
import { renderScript } from "../../components/steps/commands";
import { stateSummary } from "../../components/providers/drift";
import { renderUnit } from "../../components/render/serviceFiles";
import { ConfigError, parseStackConfig } from "../../config/load";
import { FACTS, rawConfig, SECRET_SECTIONS } from "./fixtures";
import { buildStack, remoteStep } from "./mocks";

const NAMES = blueGreenNames("ai4artsed-production", "/opt/ai4artsed-production", "/etc/ai4artsed");
const DESCRIPTION = "AI4ArtsEd production (port 17801)";
const lines = (text: string) => text.split("\n");



test("names: template instances, bridge, proxy, sockets and links derive from the unit name", () => {
  assert.deepEqual(NAMES, {
    appTemplate: "ai4artsed-production@",
    appTemplateFile: "/etc/systemd/system/ai4artsed-production@.service",
    bridgeTemplate: "ai4artsed-production-bridge@",
    bridgeSocketFile: "/etc/systemd/system/ai4artsed-production-bridge@.socket",
    bridgeServiceFile: "/etc/systemd/system/ai4artsed-production-bridge@.service",
    egressTemplate: "ai4artsed-production-egress@",
    egressServiceFile: "/etc/systemd/system/ai4artsed-production-egress@.service",
    proxyUnit: "ai4artsed-production-proxy.service",
    proxyUnitFile: "/etc/systemd/system/ai4artsed-production-proxy.service",
    proxyConfigFile: "/etc/ai4artsed/ai4artsed-production-proxy.cfg",
    socketPrefix: "/run/ai4artsed/ai4artsed-production-",
    servingLink: "/opt/ai4artsed-production/serving.sock",
    standbyLink: "/opt/ai4artsed-production/standby.sock",
    colorLinkPrefix: "/opt/ai4artsed-production/color-",
    legacyUnit: "ai4artsed-production.service",
    drainPrefix: "ai4artsed-production-drain-",
    drainProgramPrefix: "/run/ai4artsed-production-drain-",
  });
  assert.deepEqual(colorUnits(NAMES).slice(0, 5), [
    "ai4artsed-production-drain-blue.service",
    "ai4artsed-production-bridge@blue.socket",
    "ai4artsed-production-bridge@blue.service",
    "ai4artsed-production-egress@blue.service",
    "ai4artsed-production@blue.service",
  ]);
});

test("the color template runs from its own release link in a private network namespace, sandboxed like the unit", () => {
  const spec = {
    unitName: "ai4artsed-production",
    description: DESCRIPTION,
    serviceUser: "ai4artsed-production",
    installDir: "/opt/ai4artsed-production",
    backendDir: "devserver",
    environmentFile: "/etc/ai4artsed/ai4artsed-production.env",
  };
  const color = lines(renderUnit({ ...spec, color: true, wants: ["ai4artsed-production-egress@%i.service"] }));
  for (const line of [
    "Description=AI4ArtsEd production (port 17801), color %i",
    "WorkingDirectory=/opt/ai4artsed-production/color-%i/devserver",
    "ExecStart=/opt/ai4artsed-production/color-%i/venv/bin/python server.py",
    "EnvironmentFile=/etc/ai4artsed/ai4artsed-production.env",
    "SyslogIdentifier=ai4artsed-production@%i",
    "PrivateNetwork=yes",
    "BindReadOnlyPaths=-/run/systemd/resolve/resolv.conf:/etc/resolv.conf",
    "Wants=ai4artsed-production-egress@%i.service",
    "PrivateUsers=yes",
    "ProtectSystem=strict",
    "ReadWritePaths=/opt/ai4artsed-production/shared",
    "WantedBy=multi-user.target",
  ]) {
    assert.ok(color.includes(line), `color template lacks ${line}`);
  }
  const plain = renderUnit(spec);
  assert.ok(!lines(plain).includes("PrivateNetwork=yes"), "the restart unit stays on the host network");
  assert.ok(lines(plain).includes("ExecStart=/opt/ai4artsed-production/current/venv/bin/python server.py"));
});

test("the bridge: a socket per color, socket-proxyd joining the color's namespace", () => {
  const socket = lines(renderBridgeSocket(NAMES, DESCRIPTION));
  for (const line of ["ListenStream=/run/ai4artsed/ai4artsed-production-%i.sock", "SocketGroup=haproxy", "SocketMode=0660", "RemoveOnStop=yes"]) {
    assert.ok(socket.includes(line), `socket lacks ${line}`);
  }
  const service = lines(renderBridgeService(NAMES, DESCRIPTION, 17801));
  for (const line of [
    "Requires=ai4artsed-production@%i.service",
    "After=ai4artsed-production@%i.service",
    "JoinsNamespaceOf=ai4artsed-production@%i.service",
    "PrivateNetwork=yes",
    "ExecStart=/usr/lib/systemd/systemd-socket-proxyd --connections-max=512 127.0.0.1:17801",
    "DynamicUser=yes",
  ]) {
    assert.ok(service.includes(line), `bridge lacks ${line}`);
  }
});

test("the egress: pasta on the color's pinned namespace, out only, the host's loopback ports mapped in", () => {
  const unit = lines(renderEgressService(NAMES, DESCRIPTION, [17803, 11434]));
  for (const line of [
    "BindsTo=ai4artsed-production@%i.service",
    "After=ai4artsed-production@%i.service",
    "ExecStartPre=/bin/sh -c 'mkdir -p /run/ai4artsed/netns && touch /run/ai4artsed/netns/ai4artsed-production@%i && mount --bind /proc/$$(systemctl show -P MainPID ai4artsed-production@%i.service)/ns/net /run/ai4artsed/netns/ai4artsed-production@%i'",
    "ExecStart=/usr/bin/pasta --foreground --quiet --runas 0:0 --no-netns-quit --config-net -t none -u none -T 11434,17803 -U none --netns /run/ai4artsed/netns/ai4artsed-production@%i",
    "ExecStopPost=-/bin/umount /run/ai4artsed/netns/ai4artsed-production@%i",
  ]) {
    assert.ok(unit.includes(line), `egress lacks ${line}`);
  }
  assert.ok(renderEgressService(NAMES, DESCRIPTION, []).includes(" -T none "), "no host port: none mapped");
});

test("the proxy: loopback only, one server connection per request, long requests may finish; its metrics on a port of their own", () => {
  const config = lines(renderProxyConfig({ names: NAMES, port: 17801, metricsPort: 17811, drainTimeoutSeconds: 660 }));
  for (const line of [
    "    bind 127.0.0.1:17801",
    "    bind 127.0.0.1:17811",
    "    http-request use-service prometheus-exporter if { path /metrics }",
    "    server serving /opt/ai4artsed-production/serving.sock maxconn 512",
    "    option http-server-close",
    "    timeout server 660s",
    "    timeout client 660s",
    "    hard-stop-after 660s",
    // The watch window's standby: a request the new color fails goes to the old one at once.
    "    balance first",
    "    option redispatch 1",
    "    retry-on conn-failure empty-response",
    "    server standby /opt/ai4artsed-production/standby.sock maxconn 512 check inter 500ms fall 1 rise 1",
  ]) {
    assert.ok(config.includes(line), `proxy config lacks ${JSON.stringify(line)}`);
  }
  assert.ok(!config.some((l) => /bind (0\.0\.0\.0|\*|:::)/.test(l)), "the proxy must not listen beyond loopback");
  const unit = lines(renderProxyUnit(NAMES, DESCRIPTION, 17801));
  for (const line of [
    "Type=notify",
    "User=haproxy",
    "ExecStart=/usr/sbin/haproxy -Ws -f /etc/ai4artsed/ai4artsed-production-proxy.cfg",
    "ExecReload=/usr/sbin/haproxy -c -q -f /etc/ai4artsed/ai4artsed-production-proxy.cfg",
    "ExecReload=/bin/kill -USR2 $MAINPID",
    "WantedBy=multi-user.target",
  ]) {
    assert.ok(unit.includes(line), `proxy unit lacks ${line}`);
  }
});

test("production defaults to blue-green: units, proxy, haproxy package and the blue-green activation", async () => {
  const graph = await buildStack("production", {}, FACTS, "bg");
  const activate = remoteStep(graph, "bg-service-activate").create;
  assert.match(activate, /^# ai4artsed activate-blue-green\n/);
  for (const param of [
    "INSTALL_DIR=/opt/ai4artsed-production",
    `COMMIT=${FACTS.commit}`,
    "APP_TEMPLATE=ai4artsed-production@",
    "BRIDGE_TEMPLATE=ai4artsed-production-bridge@",
    "PROXY_UNIT=ai4artsed-production-proxy.service",
    "LEGACY_UNIT=ai4artsed-production.service",
    "SOCKET_PREFIX=/run/ai4artsed/ai4artsed-production-",
    "SERVING_LINK=/opt/ai4artsed-production/serving.sock",
    "COLOR_LINK_PREFIX=/opt/ai4artsed-production/color-",
    "HEALTH_PATH=/api/schema/info",
    "PUBLIC_HEALTH_URL=http://127.0.0.1:17801/api/schema/info",
    "HEALTH_TIMEOUT_SECONDS=60",
    "DRAIN_TIMEOUT_SECONDS=660",
    "DRAIN_PREFIX=ai4artsed-production-drain-",
    "DRAIN_PROGRAM_PREFIX=/run/ai4artsed-production-drain-",
    "KEEP_RELEASES=5",
  ]) {
    assert.ok(activate.includes(`\n${param}\n`), `activate lacks ${param}`);
  }
  assert.ok(activate.indexOf("prune_releases() {") < activate.indexOf("drain_color() {"), "helpers inlined: releases, then colors");
  execFileSync("bash", ["-n", "-c", activate]);
  const unit = remoteStep(graph, "bg-service-unit");
  assert.match(unit.create, /\nTARGET_FILE=\/etc\/systemd\/system\/ai4artsed-production@\.service\n/);
  assert.match(unit.create, /\nON_CHANGE='systemctl daemon-reload'\n/);
  assert.ok(lines(unit.stdin).includes("PrivateNetwork=yes"));
  const installs: Array<[string, string]> = [
    ["bridge-socket", "/etc/systemd/system/ai4artsed-production-bridge@.socket"],
    ["bridge-service", "/etc/systemd/system/ai4artsed-production-bridge@.service"],
    ["egress-service", "/etc/systemd/system/ai4artsed-production-egress@.service"],
    ["proxy-unit", "/etc/systemd/system/ai4artsed-production-proxy.service"],
    ["proxy-config", "/etc/ai4artsed/ai4artsed-production-proxy.cfg"],
  ];
  for (const [step, file] of installs) {
    const install = remoteStep(graph, `bg-service-${step}`);
    assert.ok(install.create.includes(`\nTARGET_FILE=${file}\nFILE_MODE=644\n`), `${step} installs ${file}`);
  }
  assert.match(remoteStep(graph, "bg-service-proxy-config").create, /\nON_CHANGE='systemctl try-reload-or-restart ai4artsed-production-proxy\.service'\n/);
  assert.match(remoteStep(graph, "bg-host-packages").create, /\nPACKAGES='[^']*\bhaproxy passt\b[^']*'\n/);
  assert.ok(remoteStep(graph, "bg-service-egress-service").stdin.includes(" -T 7801,7821,11434,17803 "), "the app's host services by default");
  const remove = remoteStep(graph, "bg-service-remove").delete;
  assert.match(remove, /\nUNIT_NAME=ai4artsed-production-proxy\.service\n/);
  assert.match(remove, /\nEXTRA_UNITS='ai4artsed-production-drain-blue\.service ai4artsed-production-bridge@blue\.socket .* ai4artsed-production@green\.service ai4artsed-production\.service'\n/);
  assert.match(remove, /\nEXTRA_FILES='[^']*\/opt\/ai4artsed-production\/serving\.sock [^']*'\n/);
});

test("restart stays the development default and stops blue-green leftovers before it restarts", async () => {
  const graph = await buildStack("development", {}, FACTS, "dev-restart");
  const activate = remoteStep(graph, "dev-restart-service-activate").create;
  assert.match(activate, /^# ai4artsed activate\n/);
  assert.ok(activate.includes("\nUNIT_NAME=ai4artsed-development.service\n"));
  assert.match(activate, /\nRETIRE_UNITS='ai4artsed-development-proxy\.service ai4artsed-development-drain-blue\.service ai4artsed-development-bridge@blue\.socket /);
  assert.equal(graph.get("dev-restart-service-proxy-config"), undefined);
  assert.doesNotMatch(remoteStep(graph, "dev-restart-host-packages").create, /haproxy/);
});

test("both strategies install the app's system packages, create its writable paths and open them in the color units", async () => {
  for (const [stack, strategy] of [["production", "blue-green"], ["development", "restart"]] as const) {
    const name = `sys-${strategy}`;
    const graph = await buildStack(stack, { app: { deployStrategy: strategy, systemPackages: ["libpango-1.0-0", "fonts-dejavu-core"], writablePaths: ["/srv/loras"] } }, FACTS, name);
    assert.match(remoteStep(graph, `${name}-host-packages`).create, /\nPACKAGES='[^']*\bcurl\b[^']* libpango-1\.0-0 fonts-dejavu-core'\n/, strategy);
    assert.match(remoteStep(graph, `${name}-host-layout`).create, /\nWRITABLE_PATHS=\/srv\/loras\n/, strategy);
    assert.match(remoteStep(graph, `${name}-service-unit`).stdin, /\nReadWritePaths=\/opt\/ai4artsed-\w+\/shared \/srv\/loras\n/, strategy);
  }
});

test("blue-green on development follows its port; the drain timeout is a setting", async () => {
  const graph = await buildStack("development", { app: { deployStrategy: "blue-green", drainTimeoutSeconds: 120 } }, FACTS, "dev-bg");
  assert.ok(lines(remoteStep(graph, "dev-bg-service-proxy-config").stdin).includes("    bind 127.0.0.1:17802"));
  assert.ok(lines(remoteStep(graph, "dev-bg-service-proxy-config").stdin).includes("    timeout server 120s"));
  assert.ok(remoteStep(graph, "dev-bg-service-bridge-service").stdin.includes(" 127.0.0.1:17802\n"));
  assert.ok(remoteStep(graph, "dev-bg-service-activate").create.includes("\nDRAIN_TIMEOUT_SECONDS=120\n"));
  assert.ok(remoteStep(graph, "dev-bg-service-environment").stdin.includes('PORT="17802"'), "both colors get the stack's port");
});

test("blue-green: a code-only commit changes release, backup and activation, and nothing else", async () => {
  const before = await buildStack("production", {}, FACTS, "bgcode-a");
  const after = await buildStack("production", {}, { ...FACTS, commit: "4444444444444444444444444444444444444444" }, "bgcode-b");
  const changed = [...before.values()]
    .filter((r) => r.type === "command:remote:Command")
    .filter((r) => {
      const twin = after.get(r.name.replace(/^bgcode-a/, "bgcode-b"))!;
      const text = (x: Record<string, any>) => JSON.stringify([x.create, x.delete, x.stdin]).replace(/bgcode-[ab]/g, "");
      return text(r.inputs) !== text(twin.inputs);
    })
    .map((r) => r.name.replace(/^bgcode-a-/, ""))
    .filter((n) => n.startsWith("service-") || n.startsWith("release-"))
    .sort();
  assert.deepEqual(changed, ["release-export", "service-activate", "service-backup-snapshot"]);
});

test("drift on blue-green: observe.sh reads the template and blue-green files and the serving color", async () => {
  const params = serviceObservationParams("ai4artsed-production", "/opt/ai4artsed-production", "/etc/ai4artsed", "blue-green");
  assert.deepEqual(params, {
    UNIT_NAME: "ai4artsed-production-proxy.service",
    UNIT_FILE: unitFilesOf(NAMES).join(" "),
    SERVING_LINK: "/opt/ai4artsed-production/serving.sock",
    APP_TEMPLATE: "ai4artsed-production@",
  });
  assert.deepEqual(serviceObservationParams("ai4artsed-production", "/opt/ai4artsed-production", "/etc/ai4artsed", "restart"), {
    UNIT_NAME: "ai4artsed-production.service",
    UNIT_FILE: "/etc/systemd/system/ai4artsed-production.service",
  });
  execFileSync("bash", ["-n", "-c", renderScript("observe", { ...params, INSTALL_DIR: "/x", ENV_FILE: "/x", DENY_PORTS: "1", JOURNALD_DROPIN: "/x" })]);
  const graph = await buildStack("production", {}, FACTS, "bgdrift");
  const check = (name: string) => graph.get(`bgdrift-service-${name}-state`)!.inputs;
  assert.equal(check("running").expected, "active enabled; serving color active enabled");
  const files = [graph.get("bgdrift-service-unit")!, ...["bridge-socket", "bridge-service", "egress-service", "proxy-unit", "proxy-config"].map((s) => graph.get(`bgdrift-service-${s}`)!)];
  assert.equal(check("unit").expected, stateSummary(files.map((r) => r.inputs.stdin).join("").replace(/\n+$/, "")), "the unit check covers every file, in observe.sh's order");
  assert.equal(check("current").expected, `/opt/ai4artsed-production/releases/${FACTS.commit}`);
});

test("serviceName: the serving color's unit from the activation's structured result; the template glob before", () => {
  const result = '@@result {"servingUnit":"ai4artsed-production@green.service"}';
  assert.deepEqual(stepResultOf(`[activate/blue-green] x\n${result}\n`), { servingUnit: "ai4artsed-production@green.service" });
  assert.equal(servingUnitOf(`[activate/blue-green] x\n${result}\n`, NAMES), "ai4artsed-production@green.service");
  assert.equal(servingUnitOf("[activate/blue-green] serving unit: ai4artsed-production@green.service\n", NAMES), "ai4artsed-production@*.service", "a log line is not the result");
  assert.equal(servingUnitOf("", NAMES), "ai4artsed-production@*.service");
});

const INVALID: Array<[string, object, string]> = [
  ["unknown strategy", { deployStrategy: "rolling" }, "ai4artsed:app.deployStrategy"],
  ["drain timeout out of range", { drainTimeoutSeconds: 7200 }, "ai4artsed:app.drainTimeoutSeconds"],
  ["drain timeout not a number", { drainTimeoutSeconds: "long" }, "ai4artsed:app.drainTimeoutSeconds"],
  ["unit name with @ under blue-green", { serviceName: "ai4artsed@prod" }, "ai4artsed:app.serviceName"],
  ["install dir too long for the socket link", { installDir: `/opt/${"x".repeat(100)}` }, "ai4artsed:app.installDir"],
  ["host port that is the app's own", { hostLoopbackPorts: [11434, 17801] }, "ai4artsed:app.hostLoopbackPorts[1]"],
  ["host port out of range", { hostLoopbackPorts: [0] }, "ai4artsed:app.hostLoopbackPorts[0]"],
];

for (const [title, app, key] of INVALID) {
  test(`blue-green settings are validated with the key and an example: ${title}`, () => {
    assert.throws(
      () => parseStackConfig("production", rawConfig({ app }), SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        const line = err.problems.find((p) => p.startsWith(key));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.match(line!, /Example: pulumi config set --path app\.\S+ \S+ -s production/, line);
        return true;
      },
    );
  });
}

test("strategy defaults: blue-green for production, restart for development; 660 s drain", () => {
  const prod = parseStackConfig("production", rawConfig(), SECRET_SECTIONS).config.app;
  assert.equal(prod.deployStrategy, "blue-green");
  assert.equal(prod.drainTimeoutSeconds, 660);
  assert.equal(parseStackConfig("development", rawConfig(), SECRET_SECTIONS).config.app.deployStrategy, "restart");
  assert.equal(parseStackConfig("production", rawConfig({ app: { deployStrategy: "restart", serviceName: "a@b" } }), SECRET_SECTIONS).config.app.serviceName, "a@b");
});

test("the restart activation still carries the release helpers it shares with blue-green", () => {
  const restart = renderScript("activate", { INSTALL_DIR: "/opt/x", COMMIT: "c" });
  assert.ok(restart.indexOf("prune_releases() {") < restart.indexOf("main() {"));
  assert.ok(restart.includes("retire_units() {"));
  assert.ok(!restart.includes("drain_color() {"), "only what it needs");
  execFileSync("bash", ["-n", "-c", restart]);
});

test("a retired color drains in a transient unit whose program needs nothing from the deploy's shell", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drain-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  // Stand-ins: no request in flight; systemctl only records what it was asked.
  fs.writeFileSync(path.join(bin, "ss"), "#!/bin/sh\n", { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${dir}/systemctl.log\n`, { mode: 0o755 });
  const params = `STEP=activate/blue-green APP_TEMPLATE=ai4artsed-production@ BRIDGE_TEMPLATE=ai4artsed-production-bridge@ SOCKET_PREFIX=/run/ai4artsed/ai4artsed-production- DRAIN_TIMEOUT_SECONDS=5 DRAIN_PREFIX=ai4artsed-production-drain- DRAIN_PROGRAM_PREFIX=${dir}/ai4artsed-production-drain-`;
  const started = execFileSync("bash", ["-c", `set -euo pipefail; source components/remote/lib.sh; source components/remote/lib/colors.sh; ${params}
systemd-run() { printf '%s\\0' "$@" > ${dir}/run; }
drain_in_background blue`]).toString();
  assert.match(started, /ai4artsed-production@blue\.service drains in the background, at most 5s: journalctl -u ai4artsed-production-drain-blue\.service/);
  const args = fs.readFileSync(path.join(dir, "run"), "utf8").split("\0").slice(0, -1);
  assert.ok(args.includes("--unit=ai4artsed-production-drain-blue.service"), args.join(" "));
  assert.ok(args.includes("--property=RuntimeMaxSec=125"), args.join(" "));
  const program = path.join(dir, "ai4artsed-production-drain-blue.sh");
  assert.deepEqual(args.slice(-2), ["/bin/bash", program], "a file, not a command line systemd would expand");
  assert.equal(fs.statSync(program).mode & 0o777, 0o600);
  // The transient unit starts with a clean environment: the program must carry its functions and values.
  const drained = execFileSync("env", ["-i", `PATH=${bin}:/usr/bin:/bin`, "bash", program]).toString();
  assert.match(drained, /^\[activate\/blue-green\] ai4artsed-production@blue\.service drained in \d+ ms$/m);
  const calls = fs.readFileSync(path.join(dir, "systemctl.log"), "utf8");
  assert.match(calls, /^stop ai4artsed-production-bridge@blue\.socket ai4artsed-production-bridge@blue\.service ai4artsed-production@blue\.service$/m);
  fs.rmSync(dir, { recursive: true });
});
