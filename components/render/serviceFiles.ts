/** Pure renderers for the files both deploy strategies install: the systemd unit and its EnvironmentFile. */

import { BACKEND_ENTRY_SCRIPT } from "../../lib/paths";
import { MANAGED_UNIT_HEADER, serviceSandboxAndInstall } from "./unitParts";

export interface UnitSpec {
  readonly unitName: string;
  readonly description: string;
  readonly serviceUser: string;
  readonly installDir: string;
  readonly backendDir: string;
  readonly environmentFile: string;
  /**
   * Blue-green: render the color template (<unit>@.service) that runs from the color's own
   * release link (color-%i) in a private network namespace. Defaults to false: the one unit
   * runs from current/.
   */
  readonly color?: boolean;
  /** Directories outside installDir the app may write (ReadWritePaths=). Defaults to none. */
  readonly writablePaths?: readonly string[];
  /** Units started with this one (Wants=), e.g. a color's egress. Defaults to none. */
  readonly wants?: readonly string[];
}

/**
 * The app's unit: restarts itself, logs to the journal, runs unprivileged in a sandbox
 * in which it can write only shared/ (through the release's links) and its writable paths.
 */
export function renderUnit(spec: UnitSpec): string {
  const current = spec.color ? `${spec.installDir}/color-%i` : `${spec.installDir}/current`;
  const description = spec.color ? `${spec.description}, color %i` : spec.description;
  const identifier = spec.color ? `${spec.unitName}@%i` : spec.unitName;
  // Each color binds 0.0.0.0:<port> in a namespace of its own; its bridge joins it. A loopback
  // DNS stub (systemd-resolved's 127.0.0.53) is out of reach there: where the host has one, the
  // color reads the stub's upstream servers instead.
  const network = spec.color ? "PrivateNetwork=yes\nBindReadOnlyPaths=-/run/systemd/resolve/resolv.conf:/etc/resolv.conf\n" : "";
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}
After=network-online.target
Wants=network-online.target
${(spec.wants ?? []).map((unit) => `Wants=${unit}\n`).join("")}StartLimitIntervalSec=0

[Service]
Type=simple
User=${spec.serviceUser}
Group=${spec.serviceUser}
WorkingDirectory=${current}/${spec.backendDir}
EnvironmentFile=${spec.environmentFile}
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
ExecStart=${current}/venv/bin/python ${BACKEND_ENTRY_SCRIPT}
Restart=always
RestartSec=10
TimeoutStopSec=30
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${identifier}

# Sandbox: read-only system and code, writable shared/ and the app's tool dirs only.
UMask=0027
ReadWritePaths=${[`${spec.installDir}/shared`, ...(spec.writablePaths ?? [])].join(" ")}
PrivateUsers=yes
${network}ProcSubset=pid
${serviceSandboxAndInstall("AF_INET AF_INET6 AF_UNIX")}`;
}

/** One EnvironmentFile line; systemd reads double-quoted values with backslash escapes. */
function environmentLine(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error(`environment value of ${name} must be one line`);
  return `${name}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The EnvironmentFile: program-set variables first, then the user's extras and secrets. */
export function renderEnvironmentFile(variables: Readonly<Record<string, string>>): string {
  return (
    "# Managed by the ai4artsed Pulumi program; holds secrets (mode 0600).\n" +
    Object.entries(variables)
      .map(([name, value]) => environmentLine(name, value))
      .join("\n") +
    "\n"
  );
}
