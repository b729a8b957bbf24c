import * as pulumi from "@pulumi/pulumi";
import { ServerConnection } from "../steps/connection";
import { BUILD_USER, ENV_DIR, TOOLS_DIR } from "../../lib/paths";
import { remoteScript } from "../steps/remoteScript";
import { installFile } from "../steps/installFile";

/** sshd's drop-in: a session whose client is gone ends within a minute (ClientAlive), with any lock it held. */
export const SSHD_KEEPALIVE_DROPIN = "/etc/ssh/sshd_config.d/ai4artsed-keepalive.conf";
export const SSHD_KEEPALIVE = `# Managed by the ai4artsed Pulumi program: a session whose client is gone (a closed laptop, a
# dropped network) ends within a minute, and with it the deploy lock its 'pulumi up' held.
ClientAliveInterval 15
ClientAliveCountMax 4
`;

/** uv from PyPI, pinned: builds the venvs. */
export const UV_VERSION = "0.13.9";
/** uv's own venv, the binary in it, and its host-wide cache, which every stack's venvs hardlink from. */
export const UV_DIR = `${TOOLS_DIR}/uv-${UV_VERSION}`;
export const UV_BINARY = `${UV_DIR}/bin/uv`;
export const UV_CACHE = `${TOOLS_DIR}/uv-cache`;

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
  /**
   * Paths kept in shared/ (trailing slash: directory). A hand-made checkout found in installDir is
   * adopted: these are copied into shared/ and may differ from their committed version.
   */
  readonly sharedPaths: readonly string[];
  /** Where the server keeps what the stack deployed with (stackIdentity.ts), and that record's text. */
  readonly identityRecord: string;
  readonly identity: string;
  /**
   * Absolute paths outside installDir the service may write (the unit's ReadWritePaths=); a missing
   * one is created for the service user, an existing one left to its owner.
   */
  readonly writablePaths: readonly string[];
  /** Free MB a build needs on the install dir's filesystem (host.minFreeDiskMb). */
  readonly minFreeDiskMb: number;
  /**
   * The extra services this stack runs, as `<directory> <entry script>`: one started by hand from
   * a hand-made checkout is no reason to refuse adopting it (its unit takes it over).
   */
  readonly serviceTakeovers: readonly string[];
}

/** host-layout's parameters: the service user, the directories, the record of the stack's identity. */
export function layoutParams(args: Pick<HostArgs, "installDir" | "serviceUser" | "writablePaths" | "identityRecord" | "identity">) {
  return {
    INSTALL_DIR: args.installDir,
    SERVICE_USER: args.serviceUser,
    BUILD_USER,
    ENV_DIR,
    WRITABLE_PATHS: args.writablePaths.join("\n"),
    IDENTITY_RECORD: args.identityRecord,
    IDENTITY: args.identity,
  };
}

/** The server's base: packages, service user, this environment's directory layout. */
export class Host extends pulumi.ComponentResource {
  public readonly connection: ServerConnection;
  public readonly installDir: string;
  public readonly serviceUser: string;
  public readonly envDir: string;
  public readonly writablePaths: readonly string[];
  public readonly minFreeDiskMb: number;
  /** The step later steps wait for: layout in place, packages installed. */
  public readonly ready: pulumi.Resource;

  constructor(name: string, args: HostArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:host:Host", name, {}, opts);
    this.connection = args.connection;
    this.installDir = args.installDir;
    this.serviceUser = args.serviceUser;
    this.envDir = ENV_DIR;
    this.writablePaths = args.writablePaths;
    this.minFreeDiskMb = args.minFreeDiskMb;

    // First of all: check and take over a hand-made checkout in installDir, or stop before anything changes.
    const adopt = remoteScript(
      `${name}-adopt`,
      {
        connection: args.connection,
        script: "adopt",
        params: { INSTALL_DIR: args.installDir, SHARED_PATHS: args.sharedPaths.join("\n"), TAKE_OVER: args.serviceTakeovers.join("\n") || undefined },
      },
      { parent: this },
    );
    const packages = remoteScript(
      `${name}-packages`,
      { connection: args.connection, script: "host-packages", params: { PACKAGES: args.packages.join(" "), UV_VERSION, UV_DIR } },
      { parent: this, dependsOn: [adopt] },
    );
    // Host-wide and the same for every stack; it stays on destroy (another stack may rely on it).
    // Before the layout step, which every later step waits for: sshd's reload refuses new
    // connections for a moment, and it must not meet the deploy's parallel steps.
    const sshd = installFile(
      `${name}-sshd`,
      {
        connection: args.connection,
        file: SSHD_KEEPALIVE_DROPIN,
        mode: "644",
        text: SSHD_KEEPALIVE,
        // A running sshd reads its config at a reload (sessions stay), which reopens its listener:
        // the step ends once it listens again. A config sshd refuses is not loaded.
        onChange:
          "sshd -t && systemctl try-reload-or-restart ssh.service && " +
          `for i in $(seq 50); do ss -Hltn 'sport = :${args.connection.port}' | grep -q . && break; sleep 0.1; done`,
      },
      { parent: this, dependsOn: [packages] },
    );
    this.ready = remoteScript(
      `${name}-layout`,
      {
        connection: args.connection,
        script: "host-layout",
        params: layoutParams(args),
        deleteScript: "layout-remove",
        // Destroy never removes shared/ or backups/: the pupils' exports and keys stay.
        deleteParams: { INSTALL_DIR: args.installDir, IDENTITY_RECORD: args.identityRecord },
      },
      { parent: this, dependsOn: [packages, sshd] },
    );
    this.registerOutputs({ installDir: args.installDir });
  }
}
