import * as pulumi from "@pulumi/pulumi";
import { FrontendBuild } from "./frontendBuild";
import { Host } from "../host/host";
import { aiToolsBaseOf, BACKEND_ENTRY_SCRIPT } from "../../lib/paths";
import { PythonEnv } from "./pythonEnv";
import { remoteScript } from "../steps/remoteScript";

export interface ReleaseArgs {
  readonly host: Host;
  readonly python: PythonEnv;
  readonly frontend: FrontendBuild;
  /** Full commit id to export. */
  readonly commit: string;
  /** Backend directory inside the repository. */
  readonly backendDir: string;
  /** Frontend directory inside the repository. */
  readonly frontendDir: string;
  /** Paths linked to shared/ (trailing slash: directory). */
  readonly sharedPaths: readonly string[];
  /** Shell command run in the new release (venv on PATH, as the service user, read-only); a failure stops the deploy. Defaults to none. */
  readonly testCommand?: string;
  /** Seconds the test command may run. */
  readonly testTimeoutSeconds: number;
  /** The entry scripts of the extra services this stack runs (<directory>/server.py): their imports are checked too. */
  readonly serviceEntries: readonly string[];
}

/** releases/<commit>: an immutable export with venv, dist and shared paths linked in. */
export class Release extends pulumi.ComponentResource {
  public readonly commit: string;
  public readonly path: string;
  public readonly ready: pulumi.Resource;

  constructor(name: string, args: ReleaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:release:Release", name, {}, opts);
    this.commit = args.commit;
    this.path = `${args.host.installDir}/releases/${args.commit}`;
    const exported = remoteScript(
      `${name}-export`,
      {
        connection: args.host.connection,
        script: "release",
        params: {
          INSTALL_DIR: args.host.installDir,
          COMMIT: args.commit,
          VENV_DIR: args.python.venvDir,
          DIST_DIR: args.frontend.distDir,
          // What the app runs: the modules these import must import from the venv; their directories are byte-compiled.
          APP_ENTRIES: [`${args.backendDir}/${BACKEND_ENTRY_SCRIPT}`, ...args.serviceEntries].join("\n"),
          FRONTEND_DIR: args.frontendDir,
          SHARED_PATHS: args.sharedPaths.join("\n"),
          SERVICE_USER: args.host.serviceUser,
          MIN_FREE_MB: args.host.minFreeDiskMb,
          TEST_COMMAND: args.testCommand,
          TEST_TIMEOUT_SECONDS: args.testCommand === undefined ? undefined : args.testTimeoutSeconds,
          // The app finds its tool dirs there at import, as in its unit.
          AI_TOOLS_BASE: args.testCommand === undefined ? undefined : aiToolsBaseOf(args.host.installDir),
        },
      },
      { parent: this, dependsOn: [args.python.ready, args.frontend.ready] },
    );
    // A no-op unless the host's adopt step took over a hand-made checkout: then, just before the
    // switch, copy what the old app wrote since, stop its units and move the old checkout aside.
    this.ready = remoteScript(
      `${name}-adopt`,
      {
        connection: args.host.connection,
        script: "adopt-switch",
        params: {
          INSTALL_DIR: args.host.installDir,
          SERVICE_USER: args.host.serviceUser,
          SHARED_PATHS: args.sharedPaths.join("\n"),
        },
      },
      { parent: this, dependsOn: [exported] },
    );
    this.registerOutputs({ path: this.path });
  }
}
