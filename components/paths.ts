/** Where a stack's files live on the server; components and the observer share these. */
export const ENV_DIR = "/etc/ai4artsed";

export function unitFileOf(unit: string): string {
  return `/etc/systemd/system/${unit}`;
}

export function environmentFileOf(unitName: string, envDir: string = ENV_DIR): string {
  return `${envDir}/${unitName}.env`;
}

/** AI_TOOLS_BASE: where the app looks for kohya_ss, SwarmUI and ComfyUI. The app defaults it to the checkout's parent, which under releases/ is wrong. */
export function aiToolsBaseOf(installDir: string): string {
  return installDir.slice(0, installDir.lastIndexOf("/")) || "/";
}

/** Host-wide tools of every stack: uv's venv and its cache (venvs hardlink from it). */
export const TOOLS_DIR = "/opt/ai4artsed-tools";
