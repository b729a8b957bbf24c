import * as fs from "fs";
import * as path from "path";

/** The shell that runs on the server; one real file per remote action. */
export const REMOTE_DIR = path.join(__dirname, "..", "remote");

export type ScriptName =
  | "resolve"
  | "stack-identity"
  | "deploy-lock"
  | "observe"
  | "host-packages"
  | "host-layout"
  | "layout-remove"
  | "venv"
  | "frontend"
  | "release"
  | "install-file"
  | "remove-file"
  | "backup"
  | "activate"
  | "activate-blue-green"
  | "service-remove"
  | "firewall"
  | "cloudflared-install"
  | "cloudflared-remove"
  | "adopt"
  | "adopt-switch"
  | "health-probe"
  | "timer-remove"
  | "backup-restore"
  | "offsite-backup"
  | "monitoring-apply"
  | "monitoring-remove"
  | "monitoring-metrics";

/** Helper files (below remote/lib/) a script needs besides lib.sh, inlined after it in this order. */
const SCRIPT_HELPERS: Partial<Record<ScriptName, readonly string[]>> = {
  activate: ["lib/releases.sh", "lib/health.sh", "lib/detached.sh", "lib/result.sh"],
  "activate-blue-green": ["lib/releases.sh", "lib/health.sh", "lib/colors.sh", "lib/detached.sh", "lib/result.sh"],
  firewall: ["lib/firewall.sh"],
  "host-packages": ["lib/packages.sh"],
  "monitoring-apply": ["lib/packages.sh"],
  venv: ["lib/sandbox.sh", "lib/build.sh", "lib/result.sh"],
  frontend: ["lib/sandbox.sh", "lib/build.sh"],
  release: ["lib/sandbox.sh", "lib/build.sh", "lib/app-imports.sh"],
  adopt: ["lib/adoption.sh"],
  "adopt-switch": ["lib/adoption.sh", "lib/releases.sh"],
  "backup-restore": ["lib/health.sh", "lib/colors.sh", "lib/state.sh", "lib/restic.sh", "lib/offsite-restore.sh"],
  "health-probe": ["lib/health.sh", "lib/colors.sh", "lib/state.sh", "lib/offsite-alert.sh"],
  observe: ["lib/colors.sh", "lib/firewall.sh", "lib/offsite-observe.sh", "lib/detached.sh"],
  "deploy-lock": ["lib/detached.sh"],
  "offsite-backup": ["lib/state.sh", "lib/restic.sh"],
};

export type ScriptParams = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * The one quoting function: a value as one shell word. Safe characters stay bare, everything
 * else goes in single quotes (POSIX: nothing inside them is special), so previews stay readable.
 */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const scriptCache = new Map<string, string>();
function readScript(file: string): string {
  let text = scriptCache.get(file);
  if (text === undefined) {
    text = fs.readFileSync(path.join(REMOTE_DIR, file), "utf8");
    scriptCache.set(file, text);
  }
  return text;
}

/** Drop the shebang and header comments; the rendered text starts with its own. */
function body(text: string): string {
  const lines = text.split("\n");
  let start = 0;
  while (start < lines.length && (lines[start].startsWith("#") || lines[start] === "")) start++;
  return lines.slice(start).join("\n");
}

/** Parameters as `NAME='value'` lines; names are shell identifiers, absent values disappear. */
export function renderParams(params: ScriptParams): string {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`script parameter name ${name} is not a shell variable name`);
      return `${name}=${shellQuote(String(value))}`;
    })
    .join("\n");
}

/**
 * A whole script as the server runs it: strict mode, the parameters, the shared helpers,
 * then the script. Pure text: tests compare it, host tests run exactly this.
 */
export function renderScript(script: ScriptName, params: ScriptParams): string {
  return [
    `# ai4artsed ${script}`,
    "set -euo pipefail",
    renderParams(params),
    body(readScript("lib.sh")),
    ...(SCRIPT_HELPERS[script] ?? []).map((helper) => body(readScript(helper))),
    body(readScript(`${script}.sh`)),
  ].join("\n");
}

/** The command line that runs a rendered script as root, through sudo when the login is not root. */
export function remoteInvocation(scriptText: string, sshUser: string): string {
  const run = `bash -c ${shellQuote(scriptText)}`;
  return sshUser === "root" ? run : `sudo -n ${run}`;
}
