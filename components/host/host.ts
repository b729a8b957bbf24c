import * as pulumi from "@pulumi/pulumi";
import { ServerConnection } from "../steps/connection";
import { ENV_DIR, TOOLS_DIR } from "../../lib/paths";
import { remoteScript } from "../steps/remoteScript";

/** uv from PyPI, pinned: builds the venvs. */
export const UV_VERSION = "0.13.9";

/** Debian packages a deploy needs on the server. */
export const BASE_PACKAGES = ["git", "python3-venv", "python3-pip", "nodejs", "npm", "ufw", "curl", "ca-certificates", "tar", "util-linux"];

export interface HostArgs {
  /** How to reach the server. */
  readonly connection: ServerConnection;
  /** Root of this environment on the server, e.g. /opt/ai4artsed-production. */
  readonly installDir: string;
  /** Unprivileged user the app runs as; created when missing. */
  readonly serviceUser: string;
  /** Packages to install when missing: BASE_PACKAGES and what the stack adds. */
  readonly packages: readonly string[];
  /** Remove shared/ and backups/ too on destroy. Defaults to false: pupils' exports and keys stay. */
  readonly purgeSharedOnDestroy?: boolean;
  /**
   * Paths kept in shared/ (trailing slash: directory). A hand-made checkout found in installDir is
   * adopted: these are copied into shared/ and may differ from their committed version. Defaults to none.
   */
  readonly sharedPaths?: readonly string[];
  /** Where the server keeps what the stack deployed with (stackIdentity.ts), and that record's text. */
  readonly identityRecord: string;
  readonly identity: string;
  /**
   * Absolute paths outside installDir the service may write (the unit's ReadWritePaths=); a missing
   * one is created for the service user, an existing one left to its owner. Defaults to none.
   */
  readonly writablePaths?: readonly string[];
}

/** The server's base: packages, service user, this environment's directory layout. */
export class Host extends pulumi.ComponentResource {
  public readonly connection: ServerConnection;
  public readonly installDir: string;
  public readonly serviceUser: string;
  public readonly envDir: string;
  public readonly writablePaths: readonly string[];
  /** The pinned uv binary the host step installs. */
  public readonly uv: string;
  /** uv's host-wide cache, shared by the stacks' venvs. */
  public readonly uvCache: string;
  /** The step later steps wait for: layout in place, packages installed. */
  public readonly ready: pulumi.Resource;
  public readonly installDirOutput: pulumi.Output<string>;

  constructor(name: string, args: HostArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:host:Host", name, {}, opts);
    this.connection = args.connection;
    this.installDir = args.installDir;
    this.serviceUser = args.serviceUser;
    this.envDir = ENV_DIR;
    this.writablePaths = args.writablePaths ?? [];
    const uvDir = `${TOOLS_DIR}/uv-${UV_VERSION}`;
    this.uv = `${uvDir}/bin/uv`;
    this.uvCache = `${TOOLS_DIR}/uv-cache`;

    // First of all: check and take over a hand-made checkout in installDir, or stop before anything changes.
    const adopt = remoteScript(
      `${name}-adopt`,
      { connection: args.connection, script: "adopt", params: { INSTALL_DIR: args.installDir, SHARED_PATHS: (args.sharedPaths ?? []).join("\n") } },
      { parent: this },
    );
    const packages = remoteScript(
      `${name}-packages`,
      { connection: args.connection, script: "host-packages", params: { PACKAGES: args.packages.join(" "), UV_VERSION, UV_DIR: uvDir } },
      { parent: this, dependsOn: [adopt] },
    );
    this.ready = remoteScript(
      `${name}-layout`,
      {
        connection: args.connection,
        script: "host-layout",
        params: {
          INSTALL_DIR: args.installDir,
          SERVICE_USER: args.serviceUser,
          ENV_DIR: this.envDir,
          WRITABLE_PATHS: this.writablePaths.join("\n"),
          IDENTITY_RECORD: args.identityRecord,
          IDENTITY: args.identity,
        },
        deleteScript: "layout-remove",
        deleteParams: { INSTALL_DIR: args.installDir, PURGE_SHARED: args.purgeSharedOnDestroy ? "yes" : "no", IDENTITY_RECORD: args.identityRecord },
      },
      { parent: this, dependsOn: [packages] },
    );
    this.installDirOutput = pulumi.output(args.installDir);
    this.registerOutputs({ installDirOutput: this.installDirOutput });
  }
}
