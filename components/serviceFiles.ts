/** Pure renderers for the files AppService installs: the systemd unit and its EnvironmentFile. */

export interface UnitSpec {
  readonly unitName: string;
  readonly description: string;
  readonly serviceUser: string;
  readonly installDir: string;
  readonly backendDir: string;
  readonly environmentFile: string;
}

/**
 * The app's unit: restarts itself, logs to the journal, runs unprivileged in a sandbox
 * in which it can write only shared/ (through the release's links).
 */
export function renderUnit(spec: UnitSpec): string {
  const current = `${spec.installDir}/current`;
  return `# Managed by the ai4artsed Pulumi program; edits here are reverted by the next 'pulumi up'.
[Unit]
Description=${spec.description}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User=${spec.serviceUser}
Group=${spec.serviceUser}
WorkingDirectory=${current}/${spec.backendDir}
EnvironmentFile=${spec.environmentFile}
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
ExecStart=${current}/venv/bin/python server.py
Restart=always
RestartSec=10
TimeoutStopSec=30
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${spec.unitName}

# Sandbox: read-only system and code, writable shared/ only.
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${spec.installDir}/shared
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
DevicePolicy=closed

[Install]
WantedBy=multi-user.target
`;
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
