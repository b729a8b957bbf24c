import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../../lib/sha256";
import { Host } from "../host/host";
import { remoteScript } from "../steps/remoteScript";
import { BUILD_USER } from "../../lib/paths";

export interface FrontendBuildArgs {
  readonly host: Host;
  /** Git tree id of the frontend directory: with the commands, the build's content key. */
  readonly frontendTree: string;
  /** Installs dependencies (app.frontendInstallCommand). */
  readonly installCommand: string;
  /** Writes dist/ (app.frontendBuildCommand). */
  readonly buildCommand: string;
}

/** Same tree and commands, same dist: a key that changes only when the build would. */
export function frontendBuildKey(tree: string, installCommand: string, buildCommand: string): string {
  return sha256(`${tree}\n${installCommand}\n${buildCommand}`).slice(0, 24);
}

/** frontends/<key>/dist: built only when the frontend tree or its commands change. */
export class FrontendBuild extends pulumi.ComponentResource {
  public readonly distDir: string;
  public readonly ready: pulumi.Resource;

  constructor(name: string, args: FrontendBuildArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:frontend:FrontendBuild", name, {}, opts);
    const installCommand = args.installCommand;
    const buildCommand = args.buildCommand;
    const key = frontendBuildKey(args.frontendTree, installCommand, buildCommand);
    this.distDir = `${args.host.installDir}/frontends/${key}/dist`;
    this.ready = remoteScript(
      `${name}-build`,
      {
        connection: args.host.connection,
        script: "frontend",
        params: {
          INSTALL_DIR: args.host.installDir,
          FRONTEND_TREE: args.frontendTree,
          BUILD_KEY: key,
          INSTALL_COMMAND: installCommand,
          BUILD_COMMAND: buildCommand,
          MIN_FREE_MB: args.host.minFreeDiskMb,
          // Installed and built as the build user, who never sees ENV_DIR, shared/ or backups/.
          BUILD_USER,
          ENV_DIR: args.host.envDir,
        },
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.registerOutputs({ distDir: this.distDir });
  }
}
