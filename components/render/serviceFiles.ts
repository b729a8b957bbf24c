/** Pure renderers for the files both deploy strategies install: the systemd unit and its EnvironmentFile. */

import { BACKEND_ENTRY_SCRIPT } from "../../lib/paths";
import { serviceSandboxAndInstall, serviceUnitStart } from "./unitParts";

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
  return `${serviceUnitStart(description, spec.wants)}Type=simple
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

export interface ExtraServiceUnitSpec {
  readonly unit: string;
  readonly description: string;
  readonly serviceUser: string;
  /** The service's release link (services/<name>/current). */
  readonly current: string;
  /** Its directory inside the repository. */
  readonly directory: string;
  /** A program of the venv and its arguments, e.g. `python server.py`. */
  readonly command: string;
  readonly environmentFile: string;
  /** Directories outside the install dir it may write (ReadWritePaths=), besides its cache. */
  readonly writablePaths: readonly string[];
  /** Its cache directory (CacheDirectory=, and HOME: models and the Hugging Face cache go there). */
  readonly cacheDir: string;
  /** `auto`: the GPU's devices where the host has them; `none`: no devices. */
  readonly gpu: "auto" | "none";
}

/** The groups that own the GPU's device nodes (the render nodes, AMD's /dev/kfd). */
export const GPU_GROUPS = ["video", "render"];

/**
 * The GPU's devices, allowed by their driver's device class so the same unit runs on a host with
 * or without them: NVIDIA's (frontend /dev/nvidia*, unified memory, capabilities) and the render
 * nodes of /dev/dri with AMD's /dev/kfd. The service user joins the groups that own them.
 */
export const GPU_DEVICE_LINES = `SupplementaryGroups=${GPU_GROUPS.join(" ")}
DeviceAllow=char-nvidia-frontend rw
DeviceAllow=char-nvidia-uvm rw
DeviceAllow=char-nvidia-caps r
DeviceAllow=char-drm rw
DeviceAllow=/dev/kfd rw
`;

/**
 * One of the app's extra services (the GPU service): one instance per host, run from its owner
 * stack's release link with the venv there, restarting itself, in the shared sandbox; its cache
 * (models, the Hugging Face cache) in a directory of its own that deploys never touch.
 */
export function renderExtraServiceUnit(spec: ExtraServiceUnitSpec): string {
  const [program, ...args] = spec.command.split(" ");
  const writable = spec.writablePaths.length > 0 ? `ReadWritePaths=${spec.writablePaths.join(" ")}\n` : "";
  // PyTorch reads /proc/cpuinfo and /proc/meminfo (no ProcSubset=pid); a device's group is the
  // host's, so a GPU unit keeps the host's users (no PrivateUsers=).
  const devices = spec.gpu === "auto" ? GPU_DEVICE_LINES : "PrivateUsers=yes\n";
  return `${serviceUnitStart(spec.description)}Type=simple
User=${spec.serviceUser}
Group=${spec.serviceUser}
WorkingDirectory=${spec.current}/${spec.directory}
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=${spec.cacheDir}
EnvironmentFile=${spec.environmentFile}
ExecStart=${[`${spec.current}/venv/bin/${program}`, ...args].join(" ")}
Restart=always
RestartSec=10
TimeoutStopSec=60
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${spec.unit}

# Sandbox: read-only system and code; writable its cache and its writable paths only.
UMask=0027
CacheDirectory=${spec.cacheDir.replace(/^\/var\/cache\//, "")}
${writable}${devices}${serviceSandboxAndInstall("AF_INET AF_INET6 AF_UNIX", spec.gpu === "auto" ? "allowed" : "none")}`;
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
