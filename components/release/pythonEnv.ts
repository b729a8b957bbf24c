import * as pulumi from "@pulumi/pulumi";
import { driftCheck } from "../providers/drift";
import { Host, UV_BINARY, UV_CACHE } from "../host/host";
import { remoteScript } from "../steps/remoteScript";

/** The interpreter venvs are made with: the distribution's Python 3. */
const PYTHON = "python3";

export interface PythonEnvArgs {
  readonly host: Host;
  /** Git blob id of the requirements file: the venv's content key. */
  readonly requirementsBlob: string;
  /** observe.sh's `venvs` section; undefined when the server was not observed. */
  readonly observedVenvs?: string;
}

/** venv.sh's parameters: build venvs/<requirements blob> of installDir with the host's uv. */
export function venvParams<Repairs extends pulumi.Input<number>>(installDir: string, requirementsBlob: string, repairs: Repairs) {
  return { INSTALL_DIR: installDir, REQUIREMENTS_BLOB: requirementsBlob, PYTHON, UV: UV_BINARY, UV_CACHE, REPAIR: repairs };
}

/** venvs/<requirements blob>: built once per requirements content with uv, shared by releases. */
export class PythonEnv extends pulumi.ComponentResource {
  public readonly venvDir: string;
  public readonly ready: pulumi.Resource;
  public readonly venvDirOutput: pulumi.Output<string>;

  constructor(name: string, args: PythonEnvArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:python:PythonEnv", name, {}, opts);
    this.venvDir = `${args.host.installDir}/venvs/${args.requirementsBlob}`;
    const wanted = `${args.requirementsBlob} complete`;
    const state = driftCheck(
      `${name}-state`,
      wanted,
      args.observedVenvs === undefined ? undefined : args.observedVenvs.split("\n").includes(wanted) ? wanted : `${args.requirementsBlob} missing`,
      this,
    );
    this.ready = remoteScript(
      `${name}-build`,
      {
        connection: args.host.connection,
        script: "venv",
        params: venvParams(args.host.installDir, args.requirementsBlob, state.repairs),
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.venvDirOutput = pulumi.output(this.venvDir);
    this.registerOutputs({ venvDirOutput: this.venvDirOutput });
  }
}
