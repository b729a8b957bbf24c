/**
 * Blue-green: names and pure renderers for the units beside the app's color template.
 *
 * Each color runs as the template instance <unit>@blue or <unit>@green with PORT=<app port> in
 * its own network namespace (PrivateNetwork=yes): the app binds 0.0.0.0 and decides
 * "production" from PORT, so two colors can only coexist in two namespaces. A socket-activated
 * systemd-socket-proxyd joins that namespace (JoinsNamespaceOf=) and bridges the color's unix
 * socket to 127.0.0.1:<port> inside it. A per-stack haproxy listens on 127.0.0.1:<port> of the
 * host and connects to <installDir>/serving.sock, a symlink switched atomically to the serving
 * color's socket; closing the server side after every response (http-server-close) sends each
 * new request to the color the link names, while requests in flight finish on the old one.
 * A private namespace has loopback only: pasta (Debian's passt) gives each color the way out the
 * app needs (internet APIs, and the host's loopback ports such as Ollama's), and nothing in.
 */

import { DeployStrategy } from "../config/defaults";
import { unitFileOf } from "./paths";
import { MANAGED_UNIT_HEADER, sharedSandbox } from "./unitParts";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

/** Where the color sockets live; created by the socket units. */
export const SOCKET_DIR = "/run/ai4artsed";
/** Bundled with systemd on Debian and Ubuntu. */
export const SOCKET_PROXYD = "/usr/lib/systemd/systemd-socket-proxyd";
export const HAPROXY = "/usr/sbin/haproxy";
export const PASTA = "/usr/bin/pasta";
/** Where the egress unit pins each color's network namespace (a bind mount) for pasta. */
export const NETNS_DIR = `${SOCKET_DIR}/netns`;
/** The user Debian's haproxy package creates; the proxy runs as it and may use the color sockets. */
export const PROXY_USER = "haproxy";
/** Debian packages blue-green needs besides the base ones. */
export const BLUE_GREEN_PACKAGES = ["haproxy", "passt", "iproute2"];

/** Every name one stack's blue-green setup uses, derived from its unit name and install dir. */
export interface BlueGreenNames {
  /** Template prefix: <unit>@ (instances <unit>@blue.service, <unit>@green.service). */
  readonly appTemplate: string;
  readonly appTemplateFile: string;
  /** Bridge template prefix: <unit>-bridge@ (.socket and .service). */
  readonly bridgeTemplate: string;
  readonly bridgeSocketFile: string;
  readonly bridgeServiceFile: string;
  /** Egress template prefix: <unit>-egress@ (pasta for the color's namespace). */
  readonly egressTemplate: string;
  readonly egressServiceFile: string;
  readonly proxyUnit: string;
  readonly proxyUnitFile: string;
  readonly proxyConfigFile: string;
  /** A color's socket is `${socketPrefix}<color>.sock`. */
  readonly socketPrefix: string;
  /** Symlink to the serving color's socket; the proxy connects here. */
  readonly servingLink: string;
  /**
   * Symlink to the old color's socket while a deploy watches the new one (absent otherwise): the
   * proxy sends a request the new color fails to it.
   */
  readonly standbyLink: string;
  /** A color's release link is `${colorLinkPrefix}<color>` (the color's "current"). */
  readonly colorLinkPrefix: string;
  /** The restart strategy's unit, retired when a stack moves to blue-green. */
  readonly legacyUnit: string;
  /** A retired color drains in the transient unit `${drainPrefix}<color>.service`, after the deploy returns. */
  readonly drainPrefix: string;
  /** That unit runs the program `${drainProgramPrefix}<color>.sh`, written by the activation. */
  readonly drainProgramPrefix: string;
}

export function blueGreenNames(unitName: string, installDir: string, envDir: string): BlueGreenNames {
  return {
    appTemplate: `${unitName}@`,
    appTemplateFile: unitFileOf(`${unitName}@.service`),
    bridgeTemplate: `${unitName}-bridge@`,
    bridgeSocketFile: unitFileOf(`${unitName}-bridge@.socket`),
    bridgeServiceFile: unitFileOf(`${unitName}-bridge@.service`),
    egressTemplate: `${unitName}-egress@`,
    egressServiceFile: unitFileOf(`${unitName}-egress@.service`),
    proxyUnit: `${unitName}-proxy.service`,
    proxyUnitFile: unitFileOf(`${unitName}-proxy.service`),
    proxyConfigFile: `${envDir}/${unitName}-proxy.cfg`,
    socketPrefix: `${SOCKET_DIR}/${unitName}-`,
    servingLink: `${installDir}/serving.sock`,
    standbyLink: `${installDir}/standby.sock`,
    colorLinkPrefix: `${installDir}/color-`,
    legacyUnit: `${unitName}.service`,
    drainPrefix: `${unitName}-drain-`,
    drainProgramPrefix: `/run/${unitName}-drain-`,
  };
}

/** The color instances and sockets, for stopping everything (destroy, a move back to restart). */
export function colorUnits(names: BlueGreenNames): string[] {
  return COLORS.flatMap((c) => [
    `${names.drainPrefix}${c}.service`,
    `${names.bridgeTemplate}${c}.socket`,
    `${names.bridgeTemplate}${c}.service`,
    `${names.egressTemplate}${c}.service`,
    `${names.appTemplate}${c}.service`,
  ]);
}

/** Sandbox of the bridge and the proxy (the app unit adds its own, stricter lines). */
const HELPER_SANDBOX = sharedSandbox("AF_INET AF_INET6 AF_UNIX");

/** The socket the proxy (and the health gate) reaches a color through; it starts the bridge. */
export function renderBridgeSocket(names: BlueGreenNames, description: string): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}, color %i: socket into the color's network namespace

[Socket]
ListenStream=${names.socketPrefix}%i.sock
SocketUser=root
SocketGroup=${PROXY_USER}
SocketMode=0660
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
`;
}

/** systemd-socket-proxyd in the color's network namespace, forwarding to the app's port there. */
export function renderBridgeService(names: BlueGreenNames, description: string, port: number): string {
  const app = `${names.appTemplate}%i.service`;
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}, color %i: bridge from its socket to 127.0.0.1:${port} in its namespace
Requires=${app}
After=${app}
JoinsNamespaceOf=${app}

[Service]
Type=notify
ExecStart=${SOCKET_PROXYD} --connections-max=512 127.0.0.1:${port}
DynamicUser=yes
PrivateNetwork=yes
PrivateUsers=yes
${HELPER_SANDBOX}
`;
}

/**
 * pasta attached to the color's namespace: outbound TCP/UDP through the host's sockets (as the
 * app had on the host network), the host's loopback ports listed mapped onto the namespace's
 * loopback, nothing inbound (-t none -u none). Started with the color (its Wants=), stopped
 * with it (BindsTo=), so a restarted color gets it again. pasta opens the namespace through a
 * bind mount made with full privileges, as the app process itself may not be opened.
 */
export function renderEgressService(names: BlueGreenNames, description: string, hostPorts: readonly number[]): string {
  const app = `${names.appTemplate}%i.service`;
  const pin = `${NETNS_DIR}/${names.appTemplate}%i`;
  const ports = hostPorts.length > 0 ? [...hostPorts].sort((a, b) => a - b).join(",") : "none";
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}, color %i: way out of its network namespace (pasta)
BindsTo=${app}
After=${app}

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'mkdir -p ${NETNS_DIR} && touch ${pin} && mount --bind /proc/$$(systemctl show -P MainPID ${app})/ns/net ${pin}'
ExecStart=${PASTA} --foreground --quiet --runas 0:0 --no-netns-quit --config-net -t none -u none -T ${ports} -U none --netns ${pin}
ExecStopPost=-/bin/umount ${pin}
ExecStopPost=-/bin/rm -f ${pin}
`;
}

/** The front proxy: haproxy in master-worker mode; a reload lets old workers finish their requests. */
export function renderProxyUnit(names: BlueGreenNames, description: string, port: number): string {
  const config = names.proxyConfigFile;
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}: front proxy on 127.0.0.1:${port} to the serving color
Documentation=man:haproxy(1)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
User=${PROXY_USER}
Group=${PROXY_USER}
ExecStartPre=${HAPROXY} -c -q -f ${config}
ExecStart=${HAPROXY} -Ws -f ${config}
ExecReload=${HAPROXY} -c -q -f ${config}
ExecReload=/bin/kill -USR2 $MAINPID
KillMode=mixed
Restart=always
RestartSec=2
LimitNOFILE=16384
${HELPER_SANDBOX}

[Install]
WantedBy=multi-user.target
`;
}

export interface ProxyConfigSpec {
  readonly names: BlueGreenNames;
  readonly port: number;
  /** Longest a request may take (server timeout) and how long old workers may finish after a reload. */
  readonly drainTimeoutSeconds: number;
}

/**
 * haproxy listens on loopback only: behind it every request reaches the app from 127.0.0.1,
 * which the app treats as the local admin, so nothing from outside may reach this port.
 */
export function renderProxyConfig(spec: ProxyConfigSpec): string {
  const longest = Math.max(spec.drainTimeoutSeconds, 60);
  return `${MANAGED_UNIT_HEADER}
global
    log stderr format short local0 notice
    maxconn 4096
    hard-stop-after ${longest}s

defaults
    mode http
    log global
    option dontlognull
    # A new server connection per request: each request follows the serving link.
    option http-server-close
    retries 3
    timeout connect 5s
    timeout queue 30s
    timeout http-request 30s
    timeout http-keep-alive 10s
    timeout client ${longest}s
    timeout server ${longest}s
    timeout tunnel 1h

frontend app
    bind 127.0.0.1:${spec.port}
    default_backend serving

backend serving
    # Every request goes to the serving color. While a deploy watches a new color, the old one
    # still runs behind the standby link: a request the new one refuses, or closes unanswered as
    # a dying process does, is sent again to the standby at once (a retry avoids the server that
    # failed), so a crash costs no new request. Outside a deploy the standby link is absent and
    # its check keeps it down.
    balance first
    option redispatch 1
    retry-on conn-failure empty-response
    server serving ${spec.names.servingLink} maxconn 512
    server standby ${spec.names.standbyLink} maxconn 512 check inter 500ms fall 1 rise 1
`;
}

/** The unit files observe.sh prints in its `unit` section, in this order (the app's first). */
export function unitFilesOf(names: BlueGreenNames): string[] {
  return [names.appTemplateFile, names.bridgeSocketFile, names.bridgeServiceFile, names.egressServiceFile, names.proxyUnitFile, names.proxyConfigFile];
}

/** What observe.sh needs to report a stack's unit, running service and files, per strategy. */
export function serviceObservationParams(
  unitName: string,
  installDir: string,
  envDir: string,
  strategy: DeployStrategy,
): { UNIT_NAME: string; UNIT_FILE: string; SERVING_LINK?: string; APP_TEMPLATE?: string } {
  if (strategy === "restart") return { UNIT_NAME: `${unitName}.service`, UNIT_FILE: unitFileOf(`${unitName}.service`) };
  const names = blueGreenNames(unitName, installDir, envDir);
  return { UNIT_NAME: names.proxyUnit, UNIT_FILE: unitFilesOf(names).join(" "), SERVING_LINK: names.servingLink, APP_TEMPLATE: names.appTemplate };
}

/** The `service` section once a blue-green deploy is done: the proxy, then the serving color. */
export const BLUE_GREEN_RUNNING_STATE = "active enabled; serving color active enabled";

/** The serving color's unit, as the activation step reports it; the template glob until then. */
export function servingUnitOf(stdout: string, names: BlueGreenNames): string {
  const match = stdout.match(/serving unit: (\S+\.service)\s*$/m);
  return match ? match[1] : `${names.appTemplate}*.service`;
}
