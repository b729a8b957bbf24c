/**
 * One home for the names and paths a stack uses on the server: the config's checks, the
 * components, the observer and the scripts' parameters all take them from here. Imports nothing.
 */
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

/** The backend's entry script, run from app.backendDir (`python server.py`, as the app's own scripts do). */
export const BACKEND_ENTRY_SCRIPT = "server.py";

/**
 * A deploy's activation runs on the server as this transient unit, independent of the operator's
 * SSH session; one name per stack, so two activations of a stack never run at once.
 */
export function activationUnitOf(unitName: string): string {
  return `${unitName}-activate.service`;
}

/** Where the activation keeps its script, output, errors and status (what the next run reports). */
export function activationDirOf(installDir: string): string {
  return `${installDir}/activation`;
}

/** The lock a `pulumi up` of the stack holds on the server while it runs (deploy-lock.sh); /run/lock is gone after a reboot. */
export function deployLockOf(stack: string): string {
  return `/run/lock/ai4artsed-deploy-${stack}.lock`;
}

/** Every name and path one of the app's extra services (app.services.<name>) uses on the server. */
export interface ExtraServiceNames {
  /** The unit without .service: ai4artsed-<name>, one per host. */
  readonly unit: string;
  readonly unitFile: string;
  readonly environmentFile: string;
  /** <installDir>/services/<name>: its link, stamp and activation record, in its owner stack's install dir. */
  readonly dir: string;
  /** -> releases/<commit>: the release it runs from, moved only when its own inputs change. */
  readonly current: string;
  readonly stampFile: string;
  readonly runDir: string;
  readonly activationUnit: string;
  /** Its cache (CacheDirectory=), e.g. the models it downloads; outside every release, kept across deploys. */
  readonly cacheDir: string;
}

export function extraServiceNames(name: string, installDir: string, envDir: string = ENV_DIR): ExtraServiceNames {
  const unit = `ai4artsed-${name}`;
  const dir = `${installDir}/services/${name}`;
  return {
    unit,
    unitFile: unitFileOf(`${unit}.service`),
    environmentFile: environmentFileOf(unit, envDir),
    dir,
    current: `${dir}/current`,
    stampFile: `${dir}/.deployed`,
    runDir: `${dir}/activation`,
    activationUnit: activationUnitOf(unit),
    cacheDir: `/var/cache/${unit}`,
  };
}

/**
 * The unprivileged user every build runs as (uv's fetch and source builds, the frontend's install
 * and build): code from the package registries never runs as root. Host-wide, shared by the stacks.
 */
export const BUILD_USER = "ai4artsed-build";

/** Host-wide tools of every stack: uv's venv and its cache (venvs hardlink from it). */
export const TOOLS_DIR = "/opt/ai4artsed-tools";

/* Blue-green: two colors of one stack, each a template instance, behind a proxy. */

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

/** Where the color sockets live; created by the socket units. */
export const SOCKET_DIR = "/run/ai4artsed";
/** Where the egress unit pins each color's network namespace (a bind mount) for pasta. */
export const NETNS_DIR = `${SOCKET_DIR}/netns`;

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

/** The unit files observe.sh prints in its `unit` section, in this order (the app's first). */
export function unitFilesOf(names: BlueGreenNames): string[] {
  return [names.appTemplateFile, names.bridgeSocketFile, names.bridgeServiceFile, names.egressServiceFile, names.proxyUnitFile, names.proxyConfigFile];
}


/** What observe.sh needs to report a stack's unit, running service and files, per strategy. */
export function serviceObservationParams(
  unitName: string,
  installDir: string,
  envDir: string,
  strategy: "restart" | "blue-green",
): { UNIT_NAME: string; UNIT_FILE: string; SERVING_LINK?: string; APP_TEMPLATE?: string } {
  if (strategy === "restart") return { UNIT_NAME: `${unitName}.service`, UNIT_FILE: unitFileOf(`${unitName}.service`) };
  const names = blueGreenNames(unitName, installDir, envDir);
  return { UNIT_NAME: names.proxyUnit, UNIT_FILE: unitFilesOf(names).join(" "), SERVING_LINK: names.servingLink, APP_TEMPLATE: names.appTemplate };
}

/** Every file and link blue-green puts on the server besides the EnvironmentFile, for removal. */
export function blueGreenFilesOf(names: BlueGreenNames): string[] {
  return [
    ...unitFilesOf(names),
    names.servingLink,
    names.standbyLink,
    ...COLORS.map((c) => `${names.colorLinkPrefix}${c}`),
    ...COLORS.map((c) => `${names.drainProgramPrefix}${c}.sh`),
  ];
}
