/** Pure renderer for the cloudflared connector's systemd unit; no Pulumi, no Cloudflare code. */

import { serviceSandboxAndInstall, serviceUnitStart } from "../render/unitParts";

/** Where systemd hands the token to the service (LoadCredential); the name inside the credentials directory. */
export const TOKEN_CREDENTIAL = "tunnel-token";

/** The connector's unit name for an environment: one unit, hence one connector, per stack. */
export function connectorUnitName(environment: string): string {
  return `cloudflared-ai4artsed-${environment}`;
}

export interface ConnectorUnitSpec {
  /** Unit name without .service, e.g. cloudflared-ai4artsed-production. */
  readonly unitName: string;
  readonly description: string;
  /** The cloudflared binary, e.g. /usr/bin/cloudflared. */
  readonly binaryPath: string;
  /** Root-owned 0600 file holding the tunnel token; systemd reads it, the service never sees the path. */
  readonly tokenFile: string;
}

/**
 * The connector's unit. The token never appears in the unit or on the command line (`ps`):
 * systemd copies the root-only token file into the service's private credentials directory
 * (LoadCredential, `%d`) and cloudflared reads it with --token-file (cloudflared 2025.4.0 or later).
 * It runs as a throw-away user in a sandbox, and never sees cloudflared config files on the host.
 */
export function renderConnectorUnit(spec: ConnectorUnitSpec): string {
  for (const [name, value] of Object.entries(spec)) {
    if (/[\r\n\0]/.test(value)) throw new Error(`connector unit: ${name} must be one line`);
  }
  return `${serviceUnitStart(spec.description)}Type=notify
LoadCredential=${TOKEN_CREDENTIAL}:${spec.tokenFile}
ExecStart=${spec.binaryPath} tunnel --no-autoupdate run --token-file %d/${TOKEN_CREDENTIAL}
Restart=on-failure
RestartSec=5
TimeoutStartSec=90
TimeoutStopSec=35
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${spec.unitName}

# Sandbox: a dynamic user, nothing writable, host cloudflared configs hidden.
DynamicUser=yes
UMask=0077
InaccessiblePaths=-/etc/cloudflared -/usr/local/etc/cloudflared
PrivateUsers=yes
MemoryDenyWriteExecute=yes
${serviceSandboxAndInstall("AF_INET AF_INET6 AF_UNIX AF_NETLINK")}`;
}
