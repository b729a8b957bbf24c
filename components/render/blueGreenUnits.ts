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

import { BlueGreenNames, NETNS_DIR } from "../../lib/paths";
import { MANAGED_UNIT_HEADER, sharedSandbox } from "./unitParts";

/** Bundled with systemd on Debian and Ubuntu. */
export const SOCKET_PROXYD = "/usr/lib/systemd/systemd-socket-proxyd";
export const HAPROXY = "/usr/sbin/haproxy";
export const PASTA = "/usr/bin/pasta";
/** The user Debian's haproxy package creates; the proxy runs as it and may use the color sockets. */
export const PROXY_USER = "haproxy";
/** Debian packages blue-green needs besides the base ones. */
export const BLUE_GREEN_PACKAGES = ["haproxy", "passt", "iproute2"];

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
  /** Where the proxy serves its own Prometheus metrics (app.proxyMetricsPort), on 127.0.0.1. */
  readonly metricsPort: number;
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

# haproxy's own exporter: requests, errors and response times, for Prometheus (host.monitoring).
frontend metrics
    bind 127.0.0.1:${spec.metricsPort}
    no log
    http-request use-service prometheus-exporter if { path /metrics }
    http-request return status 404
`;
}

/** The `service` section once a blue-green deploy is done: the proxy, then the serving color. */
export const BLUE_GREEN_RUNNING_STATE = "active enabled; serving color active enabled";

/** The serving color's unit, as the activation step reports it; the template glob until then. */
export function servingUnitOf(stdout: string, names: BlueGreenNames): string {
  const match = stdout.match(/serving unit: (\S+\.service)\s*$/m);
  return match ? match[1] : `${names.appTemplate}*.service`;
}
