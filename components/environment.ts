import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { EnvironmentName } from "../config/defaults";
import { StackConfig } from "../config/schema";
import { BlueGreenService } from "./service/blueGreenService";
import { DeployedService, ServiceArgs } from "./service/deployedService";
import { RestartService } from "./service/restartService";
import { ExtraService, serviceEntryOf } from "./service/extraService";
import { ServerConnection } from "./steps/connection";
import { DeployFacts } from "./inspect/deployFacts";
import { AppliedStates, DriftBaseline, ServerObservation } from "./providers/drift";
import { Firewall } from "./host/firewall";
import { GeneratedSecret } from "./providers/generatedSecret";
import { FrontendBuild } from "./release/frontendBuild";
import { BASE_PACKAGES, Host } from "./host/host";
import { BLUE_GREEN_PACKAGES } from "./render/blueGreenUnits";
import { Journald } from "./host/journald";
import { Monitoring } from "./operations/monitoring";
import { aiToolsBaseOf } from "../lib/paths";
import { HealthMonitor, monitorPaths } from "./operations/monitor";
import { OFFSITE_PACKAGES, OffsiteBackup, offsiteWatch } from "./operations/offsiteBackup";
import { PythonEnv, PythonResolutions, recordResolution } from "./release/pythonEnv";
import { Release } from "./release/release";
import { identityRecordOf, recordOf, renderRecord } from "./inspect/stackIdentity";
import type * as edgeModule from "./cloudflare/edge";
import type { CheckToken } from "./cloudflare/access";

export interface EnvironmentArgs {
  /** production or development: names the unit, the tags and the description. */
  readonly environment: EnvironmentName;
  /** The stack's name: names the server's record of what it deployed with. */
  readonly stack: string;
  /** The validated stack config. */
  readonly config: StackConfig;
  /** Commit and content keys resolved on the server. */
  readonly facts: DeployFacts;
  readonly connection: ServerConnection;
  /** What the server has now (observe.sh), for drift review; undefined when not observed. */
  readonly observed?: ServerObservation;
  /** The venv resolutions this stack recorded before (its previous `pythonResolutions` output). */
  readonly recordedResolutions?: pulumi.Input<PythonResolutions | undefined>;
  /** What this stack's last update applied of each piece (its previous `driftBaseline` output). */
  readonly appliedStates?: pulumi.Input<AppliedStates | undefined>;
}

/** The variables the app reads, program-set first; app secrets come in as a secret Output. */
export function appEnvironment(config: StackConfig, secretKey: pulumi.Input<string>): pulumi.Output<Record<string, string>> {
  const { app } = config;
  return pulumi.secret(
    pulumi.all([secretKey, app.secrets]).apply(([key, secrets]): Record<string, string> => ({
      PORT: String(app.port),
      SECRET_KEY: key,
      DEBUG: app.debug ? "true" : "false",
      LOG_LEVEL: app.logLevel,
      AI_TOOLS_BASE: aiToolsBaseOf(app.installDir),
      ...app.environment,
      ...secrets,
    })),
  );
}

/** Ports this stack closes to the outside: its app port, the extra services it runs, and any extra ones. */
export function denyPortsOf(config: StackConfig): number[] {
  const services = Object.values(config.app.services)
    .filter((service) => service.owned)
    .map((service) => service.port);
  return [config.app.port, ...services, ...config.host.firewall.denyPorts];
}

/** The extra services (app.services) this stack runs: those it owns, by name. */
function ownedServices(config: StackConfig) {
  return Object.entries(config.app.services).filter(([, service]) => service.owned);
}

/**
 * One environment on one server, in deploy order:
 * Host (adopting a hand-made checkout first) -> PythonEnv/FrontendBuild -> Release -> Backup/RestartService or BlueGreenService
 * -> HealthMonitor and OffsiteBackup, beside Firewall, Journald and Monitoring, then the Cloudflare edge (Access, tunnel,
 * connector, rate limiting) when enabled.
 */
export class Environment extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly revision: pulumi.Output<string>;
  public readonly releasePath: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  /** Requirements blob -> the `name==version` list its venv was built with, newest first. */
  public readonly pythonResolutions: pulumi.Output<PythonResolutions>;
  /** What this update applies of each piece drift review watches, for the next one. */
  public readonly driftBaseline: pulumi.Output<AppliedStates>;
  /** `https://<hostname>` when cloudflare.enabled; undefined otherwise. */
  public readonly publicUrl?: pulumi.Output<string>;
  /** The after-deploy check's Access service token when cloudflare.enabled (a secret). */
  public readonly accessCheckToken?: pulumi.Output<CheckToken>;
  /** `https://<host.monitoring.hostname>` when cloudflare.enabled and host.monitoring.enabled; undefined otherwise. */
  public readonly dashboardsUrl?: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:index:Environment", name, {}, opts);
    const { config, facts, connection } = args;
    const { app, host: hostConfig } = config;
    const child = { parent: this };

    const offsite = config.backup.offsite;
    const backsUpOffsite = offsite.enabled;
    const packages = [
      ...BASE_PACKAGES,
      ...(app.deployStrategy === "blue-green" ? BLUE_GREEN_PACKAGES : []),
      ...(backsUpOffsite ? OFFSITE_PACKAGES : []),
      ...app.systemPackages,
    ];
    const writablePaths = app.writablePaths;
    const host = new Host(
      `${name}-host`,
      {
        connection,
        installDir: app.installDir,
        serviceUser: app.serviceUser,
        packages,
        sharedPaths: app.sharedPaths,
        writablePaths,
        minFreeDiskMb: hostConfig.minFreeDiskMb,
        serviceTakeovers: ownedServices(config).map(([, service]) => serviceEntryOf(service).join(" ")),
        identityRecord: identityRecordOf(args.stack),
        identity: renderRecord(recordOf(args.environment, config)),
      },
      child,
    );
    // A server without this stack's layout (its first deploy, or a new or wiped server) has nothing
    // to drift from: every step runs anyway, as its layout id is new (DeployFacts.layoutId).
    const observed = [args.observed?.get("current"), args.observed?.get("layout")].includes("<missing>") ? undefined : args.observed;
    const driftBaseline = new DriftBaseline(args.appliedStates);
    const recorded = pulumi.output(args.recordedResolutions);
    const python = new PythonEnv(
      `${name}-python`,
      {
        host,
        requirementsBlob: facts.requirementsBlob,
        observedVenvs: observed?.get("venvs"),
        driftBaseline,
        recordedResolution: recorded.apply((all) => all?.[facts.requirementsBlob]),
      },
      child,
    );
    this.pythonResolutions = pulumi
      .all([recorded, python.resolution])
      .apply(([all, resolution]) => recordResolution(all, facts.requirementsBlob, resolution, app.keepReleases));
    const frontend = new FrontendBuild(
      `${name}-frontend`,
      { host, frontendTree: facts.frontendTree, installCommand: app.frontendInstallCommand, buildCommand: app.frontendBuildCommand },
      child,
    );
    const release = new Release(
      `${name}-release`,
      {
        host,
        python,
        frontend,
        commit: facts.commit,
        backendDir: app.backendDir,
        frontendDir: app.frontendDir,
        sharedPaths: app.sharedPaths,
        testCommand: app.testCommand,
        testTimeoutSeconds: app.testTimeoutSeconds,
        serviceEntries: ownedServices(config).map(([, service]) => serviceEntryOf(service).join("/")),
      },
      child,
    );
    // The app's own extra services this stack runs (the GPU service), before the app switches:
    // a new release meets its services; each restarts only when its own inputs changed.
    const extraServices = ownedServices(config).map(
      ([serviceName, settings]) =>
        new ExtraService(
          `${name}-${serviceName}`,
          {
            host,
            release,
            name: serviceName,
            settings,
            tree: facts.serviceTrees[serviceName],
            requirementsBlob: facts.requirementsBlob,
            owner: args.environment,
            observed,
            driftBaseline,
          },
          child,
        ),
    );
    const secretKey =
      config.providers === "builtin"
        ? new GeneratedSecret(`${name}-secret-key`, { bytes: 32 }, child)
        : new random.RandomPassword(`${name}-secret-key`, { length: 64, special: false }, child);
    const serviceArgs: ServiceArgs = {
      host,
      release,
      unitName: app.serviceName,
      description: `AI4ArtsEd ${args.environment} (port ${app.port})`,
      port: app.port,
      healthPath: app.healthPath,
      healthTimeoutSeconds: app.healthTimeoutSeconds,
      stableSeconds: app.stableSeconds,
      watchFailedProbes: app.watchFailedProbes,
      keepReleases: app.keepReleases,
      keepBackups: app.keepBackups,
      backendDir: app.backendDir,
      // A set app.secretKey wins; the made one stays in the graph either way, so setting or
      // unsetting the key never replaces a resource.
      environment: appEnvironment(config, app.secretKey ? pulumi.secret(app.secretKey) : secretKey.result),
      observed,
      driftBaseline,
      after: extraServices.map((service) => service.ready),
    };
    // One name for both strategies: a switch of app.deployStrategy updates the steps in place.
    const service: DeployedService =
      app.deployStrategy === "blue-green"
        ? new BlueGreenService(`${name}-service`, { ...serviceArgs, drainTimeoutSeconds: app.drainTimeoutSeconds, proxyMetricsPort: app.proxyMetricsPort, hostLoopbackPorts: app.hostLoopbackPorts }, child)
        : new RestartService(`${name}-service`, serviceArgs, child);
    if (config.monitor.enabled) {
      const { intervalSeconds, alertAfterSeconds, remindEveryHours, webhookUrl } = config.monitor;
      const probing = {
        host,
        intervalSeconds,
        alertAfterSeconds,
        remindEveryHours,
        webhookUrl: webhookUrl === undefined ? undefined : pulumi.secret(webhookUrl),
        driftBaseline,
      };
      // Each extra service has a monitor of its own: its own timer, outage state and alert.
      for (const service of extraServices) {
        new HealthMonitor(
          `${service.name}-monitor`,
          {
            ...probing,
            unitName: service.unitName.replace(/\.service$/, ""),
            ...service.probeTarget,
            observed: observed?.get(`monitor:${service.unitName.replace(/\.service$/, "")}-health`),
          },
          { ...child, dependsOn: [service] },
        );
      }
      new HealthMonitor(
        `${name}-monitor`,
        {
          ...probing,
          unitName: app.serviceName,
          ...service.probeTarget,
          observed: observed?.get("monitor"),
          offsite: backsUpOffsite ? offsiteWatch(args.stack, app.serviceName, offsite.maxAgeHours) : undefined,
        },
        // Its first probe comes after the first deploy.
        { ...child, dependsOn: [service] },
      );
    }
    if (offsite.enabled) {
      new OffsiteBackup(
        `${name}-offsite-backup`,
        {
          host,
          stack: args.stack,
          unitName: app.serviceName,
          settings: offsite,
          monitorUnit: monitorPaths(app.serviceName, host.envDir).unit,
          observed: observed?.get("offsite"),
          driftBaseline,
          status: args.observed?.get("offsite-status"),
        },
        // The first backup comes after the first deploy; a restore before it continues the repository's history.
        { ...child, dependsOn: [service] },
      );
    }
    if (hostConfig.firewall.manage) {
      new Firewall(
        `${name}-firewall`,
        {
          host,
          stackTag: `ai4artsed-${args.environment}`,
          sshPort: hostConfig.firewall.sshPort,
          denyPorts: denyPortsOf(config),
          observed: observed?.get("firewall"),
          driftBaseline,
        },
        child,
      );
    }
    if (hostConfig.journald.manage) {
      new Journald(`${name}-journald`, { host, limits: hostConfig.journald, observed: observed?.get("journald"), driftBaseline }, child);
    }
    if (hostConfig.monitoring.enabled) {
      new Monitoring(
        `${name}-monitoring`,
        {
          host,
          settings: hostConfig.monitoring,
          thresholds: {
            downForSeconds: config.monitor.alertAfterSeconds,
            diskFullPercent: hostConfig.monitoring.diskFullPercent,
            errorRatePercent: hostConfig.monitoring.errorRatePercent,
            gpuMemoryFullPercent: hostConfig.monitoring.gpuMemoryFullPercent,
            backupMaxAgeHours: offsite.maxAgeHours,
          },
          remindEveryHours: config.monitor.remindEveryHours,
          webhookUrl: config.monitor.webhookUrl === undefined ? undefined : pulumi.secret(config.monitor.webhookUrl),
          installDirs: hostConfig.monitoring.installDirs,
          observed: observed?.get("monitoring"),
          driftBaseline,
        },
        // Its first probes come after the first deploy.
        { ...child, dependsOn: [service] },
      );
    }
    if (config.cloudflare.enabled) {
      // Loaded here only: a stack without Cloudflare loads no Cloudflare code and registers no Cloudflare resource.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Edge } = require("./cloudflare/edge") as typeof edgeModule;
      const edge = new Edge(
        `${name}-cloudflare`,
        { environment: args.environment, settings: config.cloudflare, host, appPort: app.port, service, dashboardsHostname: hostConfig.monitoring.hostname },
        child,
      );
      this.publicUrl = edge.publicUrl;
      this.accessCheckToken = edge.checkToken;
      this.dashboardsUrl = edge.dashboardsUrl;
    }

    this.driftBaseline = driftBaseline.applied();
    this.url = service.url;
    this.revision = service.revision;
    this.releasePath = service.releasePath;
    this.serviceName = service.serviceName;
    this.registerOutputs({
      url: this.url,
      revision: this.revision,
      releasePath: this.releasePath,
      serviceName: this.serviceName,
      publicUrl: this.publicUrl,
      accessCheckToken: this.accessCheckToken,
      dashboardsUrl: this.dashboardsUrl,
      pythonResolutions: this.pythonResolutions,
      driftBaseline: this.driftBaseline,
    });
  }
}
