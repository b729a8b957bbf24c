import * as pulumi from "@pulumi/pulumi";
import { activationUnitOf, aiToolsBaseOf, ENV_DIR, extraServiceNames, ExtraServiceNames } from "../../lib/paths";
import { monitorObservationParams } from "../operations/monitor";
import { sha256 } from "../../lib/sha256";
import { DriftBaseline, driftCheck, ServerObservation } from "../providers/drift";
import { Host } from "../host/host";
import { Release } from "../release/release";
import { GPU_GROUPS, renderEnvironmentFile, renderExtraServiceUnit } from "../render/serviceFiles";
import { installFile } from "../steps/installFile";
import { remoteScript, RemoteStep } from "../steps/remoteScript";
import { ProbeTarget } from "./deployedService";

export const EXTRA_SERVICE_TYPE = "ai4artsed:service:ExtraService";

/** One of the app's extra services as the config gives it (app.services.<name>), every value defaulted. */
export interface ExtraServiceSettings {
  readonly directory: string;
  readonly port: number;
  readonly portVariable: string;
  readonly command: string;
  readonly healthPath: string;
  readonly healthTimeoutSeconds: number;
  readonly gpu: "auto" | "none";
  readonly environment: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly writablePaths: readonly string[];
}

export interface ExtraServiceArgs {
  readonly host: Host;
  readonly release: Release;
  /** Its key under app.services: names the unit (ai4artsed-<name>) and the steps. */
  readonly name: string;
  readonly settings: ExtraServiceSettings;
  /** Git tree id of its directory at the commit: with the venv and its settings, what restarts it. */
  readonly tree: string;
  /** The requirements blob of the venv it runs with. */
  readonly requirementsBlob: string;
  /** The environment that owns it, for its description. */
  readonly owner: string;
  /** What observe.sh found (sections `extra-unit:<name>` and `extra-service:<name>`); undefined when not observed. */
  readonly observed?: ServerObservation;
  readonly driftBaseline: DriftBaseline;
}

/** An extra service's directory and entry script (its command's first argument, e.g. server.py). */
export function serviceEntryOf(service: { directory: string; command: string }): [string, string] {
  const [program, entry] = service.command.split(" ");
  return [service.directory, entry ?? program];
}

/** The variables of its EnvironmentFile: its port, AI_TOOLS_BASE, the user's extras and secrets. */
export function extraServiceEnvironment(settings: ExtraServiceSettings, installDir: string): Record<string, string> {
  return { [settings.portVariable]: String(settings.port), AI_TOOLS_BASE: aiToolsBaseOf(installDir), ...settings.environment, ...settings.secrets };
}

/**
 * What observe.sh needs to report the extra services a stack runs (`<name> <unit> <unit file>` a
 * line) and, with the monitor on, their monitors (`<monitor unit> <its files>` a line).
 */
export function extraServiceObservationParams(names: readonly string[], installDir: string, monitored: boolean): { EXTRA_SERVICES?: string; EXTRA_MONITORS?: string } {
  if (names.length === 0) return {};
  const units = names.map((name) => extraServiceNames(name, installDir));
  return {
    EXTRA_SERVICES: units.map((paths, i) => `${names[i]} ${paths.unit}.service ${paths.unitFile}`).join("\n"),
    ...(monitored
      ? {
          EXTRA_MONITORS: units
            .map((paths) => {
              const monitor = monitorObservationParams(paths.unit, ENV_DIR);
              return `${monitor.MONITOR_UNIT} ${monitor.MONITOR_FILES}`;
            })
            .join("\n"),
        }
      : {}),
  };
}

/**
 * One of the app's own extra services (the real app's GPU service): a unit of its own, one per
 * host, that its owner stack runs from the release its link points at, with that release's venv.
 * It restarts only when its own inputs change (its directory's tree, the venv, its unit and
 * EnvironmentFile): a backend-only deploy leaves it running. A restart is gated on its health
 * path and rolled back, settings included, when the new one fails; it runs on the server like the
 * app's activation (the same script, lib/detached.sh).
 */
export class ExtraService extends pulumi.ComponentResource {
  /** The component's own name, which its monitor's name starts with. */
  public readonly name: string;
  public readonly unitName: string;
  public readonly probeTarget: ProbeTarget;
  /** The activation: the app's waits for it, so a new release meets its services. */
  public readonly ready: RemoteStep;

  constructor(name: string, args: ExtraServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(EXTRA_SERVICE_TYPE, name, {}, opts);
    const { host, release, settings } = args;
    const connection = host.connection;
    const paths: ExtraServiceNames = extraServiceNames(args.name, host.installDir, host.envDir);
    const unit = `${paths.unit}.service`;
    this.name = name;
    const healthUrl = `http://127.0.0.1:${settings.port}${settings.healthPath}`;
    this.unitName = unit;
    this.probeTarget = { healthUrl, alertUnit: unit };

    const unitText = renderExtraServiceUnit({
      unit: paths.unit,
      description: `AI4ArtsEd ${args.name} (port ${settings.port}), shared by the environments, run by ${args.owner}`,
      serviceUser: host.serviceUser,
      current: paths.current,
      directory: settings.directory,
      command: settings.command,
      environmentFile: paths.environmentFile,
      writablePaths: settings.writablePaths,
      cacheDir: paths.cacheDir,
      gpu: settings.gpu,
    });
    const environmentText = pulumi.secret(renderEnvironmentFile(extraServiceEnvironment(settings, host.installDir)));
    const environmentHash = pulumi.unsecret(environmentText.apply(sha256));

    const unitState = driftCheck(`${name}-unit-state`, unitText, args.observed?.get(`extra-unit:${args.name}`), this, args.driftBaseline);
    const runningState = driftCheck(`${name}-running-state`, "active enabled", args.observed?.get(`extra-service:${args.name}`), this, args.driftBaseline);
    // Its own inputs, hashed: the same value means it keeps running on the release it runs from.
    const stamp = pulumi
      .all([environmentHash, unitState.repairs, runningState.repairs])
      .apply(([envHash, ...repairs]) => sha256(`${args.tree}\n${args.requirementsBlob}\n${unitText}\n${envHash}\n${repairs.join(",")}`));

    const environmentStep = installFile(
      `${name}-environment`,
      { connection, file: paths.environmentFile, mode: "600", text: environmentText, keepLastGood: true },
      { parent: this, dependsOn: [host.ready] },
    );
    const unitStep = installFile(
      `${name}-unit`,
      {
        connection,
        file: paths.unitFile,
        mode: "644",
        text: unitText,
        onChange: `systemctl daemon-reload && systemctl enable ${unit}`,
        // A host without a GPU driver (or udev) may lack the device groups the unit names: made empty.
        ensure: settings.gpu === "auto" ? `for group in ${GPU_GROUPS.join(" ")}; do getent group "$group" >/dev/null || groupadd --system "$group"; done` : undefined,
        keepLastGood: true,
        repairs: unitState.repairs,
      },
      { parent: this, dependsOn: [host.ready] },
    );
    const [directory, entry] = serviceEntryOf(settings);
    this.ready = remoteScript(
      `${name}-activate`,
      {
        connection,
        script: "activate",
        params: {
          INSTALL_DIR: host.installDir,
          COMMIT: release.commit,
          DEPLOY_UNIT: activationUnitOf(paths.unit),
          RUN_DIR: paths.runDir,
          UNIT_NAME: unit,
          HEALTH_URL: healthUrl,
          HEALTH_TIMEOUT_SECONDS: settings.healthTimeoutSeconds,
          // A service that cannot run twice has no old instance to go back to during a window.
          STABLE_SECONDS: 0,
          KEEP_RELEASES: 0,
          DEPLOY_STAMP: stamp,
          SETTINGS_FILES: `${paths.environmentFile} ${paths.unitFile}`,
          CURRENT_LINK: paths.current,
          STAMP_FILE: paths.stampFile,
          SUBJECT: `${paths.unit} (${settings.directory} of ${release.commit})`,
          RECORD_PREFIX: `${paths.unit}@`,
          PRUNE: "no",
          // Its hand-started instance (the operators' terminal) is taken over; anything else on its port is refused.
          TAKE_OVER_PORT: settings.port,
          TAKE_OVER_DIR: directory.split("/").pop(),
          TAKE_OVER_ENTRY: entry,
        },
      },
      { parent: this, dependsOn: [release.ready, environmentStep, unitStep] },
    );
    // Destroy only: stops it and removes its unit, EnvironmentFile and link (its cache stays).
    remoteScript(
      `${name}-remove`,
      { connection, deleteScript: "service-remove", deleteParams: { UNIT_NAME: unit, UNIT_FILE: paths.unitFile, ENV_FILE: paths.environmentFile, EXTRA_DIRS: paths.dir } },
      { parent: this, dependsOn: [host.ready] },
    );
    this.registerOutputs({});
  }
}
