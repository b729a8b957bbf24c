import * as pulumi from "@pulumi/pulumi";
import { activationDirOf, activationUnitOf, environmentFileOf } from "../../lib/paths";
import { sha256 } from "../../lib/sha256";
import { DriftBaseline, driftCheck, ServerObservation } from "../providers/drift";
import { Host, UV_CACHE } from "../host/host";
import { Release } from "../release/release";
import { renderEnvironmentFile, renderUnit } from "../render/serviceFiles";
import { installFile } from "../steps/installFile";
import { RemoteParams, remoteScript, RemoteStep } from "../steps/remoteScript";
import { Backup } from "./backup";

/** The type token of the one class both strategies were before they became two; a stack deployed then keeps its resources. */
export const APP_SERVICE_TYPE = "ai4artsed:service:AppService";
export const RESTART_SERVICE_TYPE = "ai4artsed:service:RestartService";
export const BLUE_GREEN_SERVICE_TYPE = "ai4artsed:service:BlueGreenService";

/**
 * Aliases of a strategy's component: the former single class and the other strategy, so a stack
 * from before the split, or one switching strategy, updates its steps in place instead of
 * replacing them (a replace would run the removal step's delete and stop the app).
 */
export function strategyAliases(otherType: string): pulumi.Alias[] {
  return [{ type: APP_SERVICE_TYPE }, { type: otherType }];
}

/** What both deploy strategies take; every value already defaulted by the config. */
export interface ServiceArgs {
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
  /** How long the gate waits for health. */
  readonly healthTimeoutSeconds: number;
  /** How long the new release is watched after the switch before the previous one is let go. */
  readonly stableSeconds: number;
  /** Failed health probes in a row that revert inside the window. */
  readonly watchFailedProbes: number;
  /** Releases kept on disk; the serving and previous one are always kept. */
  readonly keepReleases: number;
  /** Backups kept. */
  readonly keepBackups: number;
  /** Backend directory inside the repository. */
  readonly backendDir: string;
  /** Every variable of the EnvironmentFile, secrets included (a secret Output). */
  readonly environment: pulumi.Input<Record<string, string>>;
  /** What observe.sh found (sections unit, environment, service, current); undefined when not observed. */
  readonly observed?: ServerObservation;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
  /** Steps the activation waits for besides its own (the extra services' activations). Defaults to none. */
  readonly after?: readonly pulumi.Resource[];
}

/** What the health monitor probes and names, known before any deploy. */
export interface ProbeTarget {
  readonly healthUrl: string;
  readonly alertUnit: string;
  readonly colors?: { readonly servingLink: string; readonly appTemplate: string };
}

/** The one interface the Environment sees of a deploy strategy. */
export interface DeployedService extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;
  readonly revision: pulumi.Output<string>;
  readonly releasePath: pulumi.Output<string>;
  /** The unit that serves now, e.g. ai4artsed-production.service or ai4artsed-production@green.service. */
  readonly serviceName: pulumi.Output<string>;
  readonly probeTarget: ProbeTarget;
}

/**
 * What both strategies' components share: the outputs the Environment reads, set once the
 * activation has run, and the aliases that keep a stack's steps through a change of strategy.
 */
export abstract class ServiceComponent extends pulumi.ComponentResource implements DeployedService {
  public readonly url!: pulumi.Output<string>;
  public readonly revision!: pulumi.Output<string>;
  public readonly releasePath!: pulumi.Output<string>;
  public readonly serviceName!: pulumi.Output<string>;
  public readonly probeTarget!: ProbeTarget;

  protected constructor(type: string, otherType: string, name: string, opts: pulumi.ComponentResourceOptions) {
    super(type, name, {}, { ...opts, aliases: [...(opts.aliases ?? []), ...strategyAliases(otherType)] });
  }

  /** Publish the outputs of a deployed service: known once `activate` has run. */
  protected finish(activate: RemoteStep, release: Release, healthUrl: string, serviceName: pulumi.Output<string>, probeTarget: ProbeTarget): void {
    const self = this as { -readonly [K in keyof DeployedService]: DeployedService[K] };
    self.url = activate.stdout.apply(() => healthUrl);
    self.revision = activate.stdout.apply(() => release.commit);
    self.releasePath = activate.stdout.apply(() => release.path);
    self.serviceName = serviceName;
    self.probeTarget = probeTarget;
    this.registerOutputs({ url: this.url, revision: this.revision, releasePath: this.releasePath, serviceName: this.serviceName });
  }
}

/** A file a strategy installs besides the app's unit (blue-green's proxy and bridges). */
export interface ExtraFile {
  readonly step: string;
  readonly file: string;
  readonly text: string;
  readonly onChange: string;
}

/** Where the strategies differ; everything else is the same steps in the same order. */
export interface StrategySteps {
  /** The app's unit file: the unit itself, or the colors' template. */
  readonly unitFile: string;
  /** Whether the app's unit is the colors' template (instances <unit>@blue and @green). */
  readonly color: boolean;
  /** Units the app's unit wants started with it. */
  readonly wants: readonly string[];
  /** Run when the app's unit file changed. */
  readonly unitOnChange: string;
  readonly extraFiles: readonly ExtraFile[];
  /** The `service` section observe.sh prints once a deploy is done. */
  readonly runningState: string;
  /** The activation: the script and its own parameters besides the common ones. */
  readonly activate: { readonly script: "activate" | "activate-blue-green"; readonly params: (healthUrl: string) => RemoteParams };
  /** Destroy only: what service-remove stops and deletes. */
  readonly removeParams: (environmentFile: string) => RemoteParams;
}

/**
 * The steps of a deployed app, as both strategies run them: EnvironmentFile, unit file(s),
 * backup, activation (switch, health gate, watch window, rollback) and, on destroy, removal.
 * Resource names are the same for both strategies, so a switch of strategy updates in place.
 */
export function deployServiceSteps(owner: pulumi.ComponentResource, name: string, args: ServiceArgs, strategy: StrategySteps): { activate: RemoteStep; healthUrl: string } {
  const { host, release } = args;
  const connection = host.connection;
  const environmentFile = environmentFileOf(args.unitName, host.envDir);
  const healthUrl = `http://127.0.0.1:${args.port}${args.healthPath}`;

  const unitText = renderUnit({
    unitName: args.unitName,
    description: args.description,
    serviceUser: host.serviceUser,
    installDir: host.installDir,
    backendDir: args.backendDir,
    environmentFile,
    writablePaths: host.writablePaths,
    color: strategy.color,
    wants: [...strategy.wants],
  });
  const { extraFiles } = strategy;
  // What observe.sh prints of the unit files: the app's, then the strategy's others, one after the other.
  const unitFilesText = [unitText, ...extraFiles.map((f) => f.text)].join("");
  const environmentText = pulumi.secret(pulumi.output(args.environment).apply(renderEnvironmentFile));
  const environmentHash = pulumi.unsecret(environmentText.apply(sha256));

  // Drift: what the server has of the unit, the EnvironmentFile, the running service and `current`.
  const observed = args.observed;
  const unitState = driftCheck(`${name}-unit-state`, unitFilesText, observed?.get("unit"), owner, args.driftBaseline);
  const environmentState = driftCheck(
    `${name}-environment-state`,
    environmentHash.apply((hash) => `600 root:root sha256:${hash}`),
    observed?.get("environment"),
    owner,
    args.driftBaseline,
  );
  const serviceState = driftCheck(`${name}-running-state`, strategy.runningState, observed?.get("service"), owner, args.driftBaseline);
  const currentState = driftCheck(`${name}-current-state`, release.path, observed?.get("current"), owner, args.driftBaseline);

  // What the deploy installs, hashed: a new value means switch and restart, the same means
  // nothing to do. A repaired drift counts as new.
  const deployStamp = pulumi
    .all([environmentHash, unitState.repairs, environmentState.repairs, serviceState.repairs, currentState.repairs])
    .apply(([envHash, ...repairs]) => sha256(`${release.commit}\n${unitFilesText}\n${envHash}\n${repairs.join(",")}`));

  const environmentStep = installFile(
    `${name}-environment`,
    { connection, file: environmentFile, mode: "600", text: environmentText, keepLastGood: true, repairs: environmentState.repairs },
    { parent: owner, dependsOn: [host.ready] },
  );
  const unitStep = installFile(
    `${name}-unit`,
    { connection, file: strategy.unitFile, mode: "644", text: unitText, onChange: strategy.unitOnChange, keepLastGood: true, repairs: unitState.repairs },
    { parent: owner, dependsOn: [host.ready] },
  );
  const backup = new Backup(
    `${name}-backup`,
    { host, label: release.commit.slice(0, 12), deployStamp, environmentFile, unitFile: strategy.unitFile, keep: args.keepBackups },
    { parent: owner, dependsOn: [release.ready] },
  );
  // One after the other: the proxy config's reload needs the proxy unit installed and loaded.
  const extraSteps: pulumi.Resource[] = [];
  for (const f of extraFiles) {
    extraSteps.push(
      installFile(
        `${name}-${f.step}`,
        { connection, file: f.file, mode: "644", text: f.text, onChange: f.onChange, repairs: unitState.repairs },
        { parent: owner, dependsOn: [host.ready, unitStep, ...extraSteps.slice(-1)] },
      ),
    );
  }
  const activate = remoteScript(
    `${name}-activate`,
    {
      connection,
      script: strategy.activate.script,
      params: {
        INSTALL_DIR: host.installDir,
        COMMIT: release.commit,
        // The server runs the activation as a unit of its own; this step follows it.
        DEPLOY_UNIT: activationUnitOf(args.unitName),
        RUN_DIR: activationDirOf(host.installDir),
        HEALTH_TIMEOUT_SECONDS: args.healthTimeoutSeconds,
        STABLE_SECONDS: args.stableSeconds,
        WATCH_FAILED_PROBES: args.watchFailedProbes,
        // Pruning drops the entries of uv's cache that no venv links any more.
        UV_CACHE,
        KEEP_RELEASES: args.keepReleases,
        DEPLOY_STAMP: deployStamp,
        // A release is the commit with these: a failed activation puts their last good copies back.
        SETTINGS_FILES: `${environmentFile} ${strategy.unitFile}`,
        ...strategy.activate.params(healthUrl),
      },
    },
    { parent: owner, dependsOn: [release.ready, environmentStep, unitStep, ...extraSteps, backup, ...(args.after ?? [])] },
  );
  // Destroy only: stops and removes this stack's units and EnvironmentFile, before the layout goes.
  remoteScript(
    `${name}-remove`,
    { connection, deleteScript: "service-remove", deleteParams: strategy.removeParams(environmentFile) },
    { parent: owner, dependsOn: [host.ready] },
  );
  return { activate, healthUrl };
}
