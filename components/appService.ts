import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { Backup } from "./backup";
import {
  BLUE_GREEN_RUNNING_STATE,
  BlueGreenNames,
  blueGreenNames,
  colorUnits,
  COLORS,
  renderBridgeService,
  renderBridgeSocket,
  renderEgressService,
  renderProxyConfig,
  renderProxyUnit,
  servingUnitOf,
  unitFilesOf,
} from "./blueGreen";
import { DEFAULT_DRAIN_TIMEOUT_SECONDS, DeployStrategy } from "../config/defaults";
import { driftCheck, ServerObservation } from "./drift";
import { environmentFileOf, unitFileOf } from "./paths";
import { Host } from "./host";
import { Release } from "./release";
import { remoteScript } from "./remoteScript";
import { renderEnvironmentFile, renderUnit } from "./serviceFiles";

export interface AppServiceArgs {
  readonly host: Host;
  readonly release: Release;
  /** systemd unit name without .service, e.g. ai4artsed-production. */
  readonly unitName: string;
  /** Human-readable unit description. */
  readonly description: string;
  /** Port the app listens on; the health gate asks 127.0.0.1 on it. */
  readonly port: number;
  /** Path that answers 2xx when the app is ready. */
  readonly healthPath: string;
  /** How long the gate waits for health. Defaults to 60. */
  readonly healthTimeoutSeconds?: number;
  /** How long the new release is watched after the switch before the previous one is let go. Defaults to 0. */
  readonly stableSeconds?: number;
  /** Releases kept on disk. Defaults to 5; the serving and previous one are always kept. */
  readonly keepReleases?: number;
  /** Backups kept. Defaults to 10. */
  readonly keepBackups?: number;
  /** Backend directory inside the repository. Defaults to devserver. */
  readonly backendDir?: string;
  /** Every variable of the EnvironmentFile, secrets included (a secret Output). */
  readonly environment: pulumi.Input<Record<string, string>>;
  /** What observe.sh found (sections unit, environment, service, current); undefined when not observed. */
  readonly observed?: ServerObservation;
  /** `restart` (one unit, restarted) or `blue-green` (two colors behind a proxy). Defaults to restart. */
  readonly strategy?: DeployStrategy;
  /** Blue-green: how long the old color may finish requests in flight. Defaults to 660. */
  readonly drainTimeoutSeconds?: number;
  /** Blue-green: host loopback ports the colors reach from their namespaces. Defaults to none. */
  readonly hostLoopbackPorts?: readonly number[];
}

/** One file blue-green installs besides the app's template unit. */
interface ExtraFile {
  readonly step: string;
  readonly file: string;
  readonly text: string;
  readonly onChange: string;
}

/** The bridge socket and service, the proxy unit and its config, in observe.sh's order. */
function blueGreenFiles(names: BlueGreenNames, args: AppServiceArgs, drainTimeoutSeconds: number): ExtraFile[] {
  const reload = "systemctl daemon-reload";
  return [
    { step: "bridge-socket", file: names.bridgeSocketFile, text: renderBridgeSocket(names, args.description), onChange: reload },
    { step: "bridge-service", file: names.bridgeServiceFile, text: renderBridgeService(names, args.description, args.port), onChange: reload },
    { step: "egress-service", file: names.egressServiceFile, text: renderEgressService(names, args.description, args.hostLoopbackPorts ?? []), onChange: reload },
    // A running proxy keeps a changed unit until its next restart; a config change reloads it gracefully.
    { step: "proxy-unit", file: names.proxyUnitFile, text: renderProxyUnit(names, args.description, args.port), onChange: reload },
    {
      step: "proxy-config",
      file: names.proxyConfigFile,
      text: renderProxyConfig({ names, port: args.port, drainTimeoutSeconds }),
      onChange: `systemctl try-reload-or-restart ${names.proxyUnit}`,
    },
  ];
}

function sha256(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}

/** The running app: unit, EnvironmentFile, backup, switch of `current`, health gate, rollback. */
export class AppService extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly revision: pulumi.Output<string>;
  public readonly releasePath: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  /** What a health monitor probes and names, known before any deploy. */
  public readonly probeTarget: { readonly healthUrl: string; readonly alertUnit: string; readonly colors?: { readonly servingLink: string; readonly appTemplate: string } };

  constructor(name: string, args: AppServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:service:AppService", name, {}, opts);
    const { host, release } = args;
    const connection = host.connection;
    const unit = `${args.unitName}.service`;
    const blueGreen = args.strategy === "blue-green";
    const names = blueGreenNames(args.unitName, host.installDir, host.envDir);
    const unitFile = blueGreen ? names.appTemplateFile : unitFileOf(unit);
    const environmentFile = environmentFileOf(args.unitName, host.envDir);
    const healthUrl = `http://127.0.0.1:${args.port}${args.healthPath}`;

    const unitText = renderUnit({
      unitName: args.unitName,
      description: args.description,
      serviceUser: host.serviceUser,
      installDir: host.installDir,
      backendDir: args.backendDir ?? "devserver",
      environmentFile,
      color: blueGreen,
      wants: blueGreen ? [`${names.egressTemplate}%i.service`] : [],
    });
    const drainTimeoutSeconds = args.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS;
    const extraFiles = blueGreen ? blueGreenFiles(names, args, drainTimeoutSeconds) : [];
    // What observe.sh prints of the unit files: the app's, then blue-green's, one after the other.
    const unitFilesText = [unitText, ...extraFiles.map((f) => f.text)].join("");
    const environmentText = pulumi.secret(pulumi.output(args.environment).apply(renderEnvironmentFile));
    const environmentHash = pulumi.unsecret(environmentText.apply(sha256));

    // Drift: what the server has of the unit, the EnvironmentFile, the running service and `current`.
    const observed = args.observed;
    const unitState = driftCheck(`${name}-unit-state`, unitFilesText, observed?.get("unit"), this);
    const environmentState = driftCheck(
      `${name}-environment-state`,
      environmentHash.apply((hash) => `600 root:root sha256:${hash}`),
      observed?.get("environment"),
      this,
    );
    const serviceState = driftCheck(`${name}-running-state`, blueGreen ? BLUE_GREEN_RUNNING_STATE : "active enabled", observed?.get("service"), this);
    const currentState = driftCheck(`${name}-current-state`, release.path, observed?.get("current"), this);

    // What the deploy installs, hashed: a new value means switch and restart, the same means
    // nothing to do. A repaired drift counts as new.
    const deployStamp = pulumi
      .all([environmentHash, unitState.repairs, environmentState.repairs, serviceState.repairs, currentState.repairs])
      .apply(([envHash, ...repairs]) => sha256(`${release.commit}\n${unitFilesText}\n${envHash}\n${repairs.join(",")}`));

    const environmentStep = remoteScript(
      `${name}-environment`,
      {
        connection,
        script: "install-file",
        params: { TARGET_FILE: environmentFile, FILE_MODE: "600", REPAIR: environmentState.repairs },
        stdin: environmentText,
      },
      { parent: this, dependsOn: [host.ready] },
    );
    const unitStep = remoteScript(
      `${name}-unit`,
      {
        connection,
        script: "install-file",
        params: {
          TARGET_FILE: unitFile,
          FILE_MODE: "644",
          // Blue-green enables the serving color's instance itself.
          ON_CHANGE: blueGreen ? "systemctl daemon-reload" : `systemctl daemon-reload && systemctl enable ${unit}`,
          REPAIR: unitState.repairs,
        },
        stdin: unitText,
      },
      { parent: this, dependsOn: [host.ready] },
    );
    const backup = new Backup(
      `${name}-backup`,
      { host, label: release.commit.slice(0, 12), deployStamp, environmentFile, unitFile, keep: args.keepBackups },
      { parent: this, dependsOn: [release.ready] },
    );
    // One after the other: the proxy config's reload needs the proxy unit installed and loaded.
    const extraSteps: pulumi.Resource[] = [];
    for (const f of extraFiles) {
      extraSteps.push(
        remoteScript(
          `${name}-${f.step}`,
          {
            connection,
            script: "install-file",
            params: { TARGET_FILE: f.file, FILE_MODE: "644", ON_CHANGE: f.onChange, REPAIR: unitState.repairs },
            stdin: f.text,
          },
          { parent: this, dependsOn: [host.ready, unitStep, ...extraSteps.slice(-1)] },
        ),
      );
    }
    const common = {
      INSTALL_DIR: host.installDir,
      COMMIT: release.commit,
      HEALTH_TIMEOUT_SECONDS: args.healthTimeoutSeconds ?? 60,
      STABLE_SECONDS: args.stableSeconds ?? 0,
      KEEP_RELEASES: args.keepReleases ?? 5,
      DEPLOY_STAMP: deployStamp,
    };
    const activate = remoteScript(
      `${name}-activate`,
      {
        connection,
        ...(blueGreen
          ? {
              script: "activate-blue-green" as const,
              params: {
                ...common,
                APP_TEMPLATE: names.appTemplate,
                BRIDGE_TEMPLATE: names.bridgeTemplate,
                PROXY_UNIT: names.proxyUnit,
                LEGACY_UNIT: names.legacyUnit,
                SOCKET_PREFIX: names.socketPrefix,
                SERVING_LINK: names.servingLink,
                STANDBY_LINK: names.standbyLink,
                COLOR_LINK_PREFIX: names.colorLinkPrefix,
                HEALTH_PATH: args.healthPath,
                PUBLIC_HEALTH_URL: healthUrl,
                DRAIN_TIMEOUT_SECONDS: drainTimeoutSeconds,
                DRAIN_PREFIX: names.drainPrefix,
                DRAIN_PROGRAM_PREFIX: names.drainProgramPrefix,
              },
            }
          : {
              script: "activate" as const,
              // Units a blue-green deploy left would hold the port; activate stops them first.
              params: { ...common, UNIT_NAME: unit, HEALTH_URL: healthUrl, RETIRE_UNITS: [names.proxyUnit, ...colorUnits(names)].join(" ") },
            }),
      },
      { parent: this, dependsOn: [release.ready, environmentStep, unitStep, ...extraSteps, backup] },
    );
    // Destroy only: stops and removes this stack's units and EnvironmentFile, before the layout goes.
    const drainPrograms = COLORS.map((c) => `${names.drainProgramPrefix}${c}.sh`);
    const blueGreenFileList = [...unitFilesOf(names), names.servingLink, names.standbyLink, ...COLORS.map((c) => `${names.colorLinkPrefix}${c}`), ...drainPrograms];
    remoteScript(
      `${name}-remove`,
      {
        connection,
        deleteScript: "service-remove",
        deleteParams: blueGreen
          ? {
              UNIT_NAME: names.proxyUnit,
              ENV_FILE: environmentFile,
              EXTRA_UNITS: [...colorUnits(names), names.legacyUnit].join(" "),
              EXTRA_FILES: [...blueGreenFileList, unitFileOf(unit)].join(" "),
            }
          : { UNIT_NAME: unit, ENV_FILE: environmentFile, EXTRA_UNITS: [names.proxyUnit, ...colorUnits(names)].join(" "), EXTRA_FILES: blueGreenFileList.join(" ") },
      },
      { parent: this, dependsOn: [host.ready] },
    );

    this.url = activate.stdout.apply(() => healthUrl);
    this.revision = activate.stdout.apply(() => release.commit);
    this.releasePath = activate.stdout.apply(() => release.path);
    // Blue-green: the serving color's instance, e.g. ai4artsed-production@green.service.
    this.serviceName = blueGreen ? activate.stdout.apply((out) => servingUnitOf(out, names)) : pulumi.output(unit);
    this.probeTarget = blueGreen
      ? { healthUrl, alertUnit: names.proxyUnit, colors: { servingLink: names.servingLink, appTemplate: names.appTemplate } }
      : { healthUrl, alertUnit: unit };
    this.registerOutputs({ url: this.url, revision: this.revision, releasePath: this.releasePath, serviceName: this.serviceName });
  }
}
