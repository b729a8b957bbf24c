import * as pulumi from "@pulumi/pulumi";
import { FrontendBuild } from "./frontendBuild";
import { Host } from "./host";
import { PythonEnv } from "./pythonEnv";
import { remoteScript } from "./remoteScript";

export interface ReleaseArgs {
  readonly host: Host;
  readonly python: PythonEnv;
  readonly frontend: FrontendBuild;
  /** Full commit id to export. */
  readonly commit: string;
  /** Backend directory inside the repository. Defaults to devserver. */
  readonly backendDir?: string;
  /** Frontend directory inside the repository. Defaults to public/ai4artsed-frontend. */
  readonly frontendDir?: string;
  /** Paths linked to shared/ (trailing slash: directory). Defaults to none. */
  readonly sharedPaths?: readonly string[];
}

/** releases/<commit>: an immutable export with venv, dist and shared paths linked in. */
export class Release extends pulumi.ComponentResource {
  public readonly commit: string;
  public readonly path: string;
  public readonly ready: pulumi.Resource;
  public readonly pathOutput: pulumi.Output<string>;

  constructor(name: string, args: ReleaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:release:Release", name, {}, opts);
    this.commit = args.commit;
    this.path = `${args.host.installDir}/releases/${args.commit}`;
    this.ready = remoteScript(
      `${name}-export`,
      {
        connection: args.host.connection,
        script: "release",
        params: {
          INSTALL_DIR: args.host.installDir,
          COMMIT: args.commit,
          VENV_DIR: args.python.venvDir,
          DIST_DIR: args.frontend.distDir,
          BACKEND_DIR: args.backendDir ?? "devserver",
          FRONTEND_DIR: args.frontendDir ?? "public/ai4artsed-frontend",
          SHARED_PATHS: (args.sharedPaths ?? []).join("\n"),
          SERVICE_USER: args.host.serviceUser,
        },
      },
      { parent: this, dependsOn: [args.python.ready, args.frontend.ready] },
    );
    this.pathOutput = pulumi.output(this.path);
    this.registerOutputs({ pathOutput: this.pathOutput });
  }
}
