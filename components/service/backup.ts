import * as pulumi from "@pulumi/pulumi";
import { Host } from "../host/host";
import { remoteScript } from "../steps/remoteScript";

export interface BackupArgs {
  readonly host: Host;
  /** Names the snapshot, e.g. the short commit id. */
  readonly label: string;
  /** Hash of what the deploy installs; a new stamp takes a new snapshot. */
  readonly deployStamp: pulumi.Input<string>;
  /** Files besides shared/ to include. */
  readonly environmentFile: string;
  readonly unitFile: string;
  /** Snapshots kept (app.keepBackups). */
  readonly keep: number;
}

/** A snapshot of shared settings, keys, EnvironmentFile and unit before each switch. */
export class Backup extends pulumi.ComponentResource {
  public readonly ready: pulumi.Resource;
  public readonly directory: pulumi.Output<string>;

  constructor(name: string, args: BackupArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:backup:Backup", name, {}, opts);
    this.ready = remoteScript(
      `${name}-snapshot`,
      {
        connection: args.host.connection,
        script: "backup",
        params: {
          INSTALL_DIR: args.host.installDir,
          LABEL: args.label,
          KEEP_BACKUPS: args.keep,
          ENV_FILE: args.environmentFile,
          UNIT_FILE: args.unitFile,
          // A settings-only change has a new stamp, so it is snapshotted too.
          DEPLOY_STAMP: args.deployStamp,
        },
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.directory = pulumi.output(`${args.host.installDir}/backups`);
    this.registerOutputs({ directory: this.directory });
  }
}
