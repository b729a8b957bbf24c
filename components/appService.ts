import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { Backup } from "./backup";
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

  constructor(name: string, args: AppServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:service:AppService", name, {}, opts);
    const { host, release } = args;
    const connection = host.connection;
    const unit = `${args.unitName}.service`;
    const unitFile = unitFileOf(unit);
    const environmentFile = environmentFileOf(args.unitName, host.envDir);
    const healthUrl = `http://127.0.0.1:${args.port}${args.healthPath}`;

    const unitText = renderUnit({
      unitName: args.unitName,
      description: args.description,
      serviceUser: host.serviceUser,
      installDir: host.installDir,
      backendDir: args.backendDir ?? "devserver",
      environmentFile,
    });
    const environmentText = pulumi.secret(pulumi.output(args.environment).apply(renderEnvironmentFile));
    const environmentHash = pulumi.unsecret(environmentText.apply(sha256));

    // Drift: what the server has of the unit, the EnvironmentFile, the running service and `current`.
    const observed = args.observed;
    const unitState = driftCheck(`${name}-unit-state`, unitText, observed?.get("unit"), this);
    const environmentState = driftCheck(
      `${name}-environment-state`,
      environmentHash.apply((hash) => `600 root:root sha256:${hash}`),
      observed?.get("environment"),
      this,
    );
    const serviceState = driftCheck(`${name}-running-state`, "active enabled", observed?.get("service"), this);
    const currentState = driftCheck(`${name}-current-state`, release.path, observed?.get("current"), this);

    // What the deploy installs, hashed: a new value means switch and restart, the same means
    // nothing to do. A repaired drift counts as new.
    const deployStamp = pulumi
      .all([environmentHash, unitState.repairs, environmentState.repairs, serviceState.repairs, currentState.repairs])
      .apply(([envHash, ...repairs]) => sha256(`${release.commit}\n${unitText}\n${envHash}\n${repairs.join(",")}`));

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
          ON_CHANGE: `systemctl daemon-reload && systemctl enable ${unit}`,
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
    const activate = remoteScript(
      `${name}-activate`,
      {
        connection,
        script: "activate",
        params: {
          INSTALL_DIR: host.installDir,
          COMMIT: release.commit,
          UNIT_NAME: unit,
          HEALTH_URL: healthUrl,
          HEALTH_TIMEOUT_SECONDS: args.healthTimeoutSeconds ?? 60,
          KEEP_RELEASES: args.keepReleases ?? 5,
          DEPLOY_STAMP: deployStamp,
        },
      },
      { parent: this, dependsOn: [release.ready, environmentStep, unitStep, backup] },
    );
    // Destroy only: stops and removes this stack's unit and EnvironmentFile, before the layout goes.
    remoteScript(
      `${name}-remove`,
      { connection, deleteScript: "service-remove", deleteParams: { UNIT_NAME: unit, ENV_FILE: environmentFile } },
      { parent: this, dependsOn: [host.ready] },
    );

    this.url = activate.stdout.apply(() => healthUrl);
    this.revision = activate.stdout.apply(() => release.commit);
    this.releasePath = activate.stdout.apply(() => release.path);
    this.serviceName = pulumi.output(unit);
    this.registerOutputs({ url: this.url, revision: this.revision, releasePath: this.releasePath, serviceName: this.serviceName });
  }
}
