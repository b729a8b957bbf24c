/** The first line of every unit file this program installs; adopt.sh and adopt-switch.sh look for it. */
export const MANAGED_UNIT_HEADER = "# Managed by the ai4artsed Pulumi program; edits here are reverted by the next 'pulumi up'.";

/**
 * The start of a long-running service's unit, the app's, an extra service's and the connector's
 * alike: the header, its description, started once the network is up (with WANTS), restarted
 * without a limit on starts; then its [Service] section.
 */
export function serviceUnitStart(description: string, wants: readonly string[] = []): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=${description}
After=network-online.target
Wants=network-online.target
${wants.map((unit) => `Wants=${unit}\n`).join("")}StartLimitIntervalSec=0

[Service]
`;
}

/**
 * The systemd sandbox every long-running unit of this program shares: read-only system, no
 * privileges, no kernel or namespace access, a system-service syscall filter. Each unit adds
 * its own directives (user, writable paths, private network) next to it, so one hardening
 * change reaches the app, the blue-green helpers and the tunnel connector alike.
 */
export function sharedSandbox(addressFamilies: string, devices: "none" | "allowed" = "none"): string {
  return `NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=${devices === "none" ? "yes" : "no"}
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
RestrictAddressFamilies=${addressFamilies}
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
CapabilityBoundingSet=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM`;
}

/**
 * The end of a long-running service's unit, the app's and the connector's alike: no IPC left
 * behind, no capabilities, no devices but those its DeviceAllow= lines name ("allowed"), the
 * shared sandbox, started at boot.
 */
export function serviceSandboxAndInstall(addressFamilies: string, devices: "none" | "allowed" = "none"): string {
  return `RemoveIPC=yes
AmbientCapabilities=
DevicePolicy=closed
${sharedSandbox(addressFamilies, devices)}

[Install]
WantedBy=multi-user.target
`;
}
