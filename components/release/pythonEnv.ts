import * as pulumi from "@pulumi/pulumi";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { Host, UV_BINARY, UV_CACHE } from "../host/host";
import { BUILD_USER, ENV_DIR } from "../../lib/paths";
import { RemoteStep, remoteScript, stepResultOf } from "../steps/remoteScript";

/** The interpreter venvs are made with: the distribution's Python 3. */
const PYTHON = "python3";

export interface PythonEnvArgs {
  readonly host: Host;
  /** Git blob id of the requirements file: the venv's content key. */
  readonly requirementsBlob: string;
  /** observe.sh's `venvs` section; undefined when the server was not observed. */
  readonly observedVenvs?: string;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
  /**
   * The `name==version` list this requirements blob resolved to when it was first built (kept in
   * the stack's outputs), if any: a venv built again installs exactly it.
   */
  readonly recordedResolution?: pulumi.Input<string | undefined>;
}

/** Inside each venv: what `uv pip freeze` listed right after it was built. */
export const RESOLUTION_FILE = ".resolution.txt";

/** Requirements blob -> the `name==version` list its venv was first built with. */
export type PythonResolutions = Readonly<Record<string, string>>;

/**
 * The recorded resolutions with this blob's (the first one recorded stays: a rebuild installs
 * it), the newest first, as many as releases are kept: a rollback on a new server finds its own.
 */
export function recordResolution(recorded: PythonResolutions | undefined, blob: string, resolution: string | undefined, keep: number): PythonResolutions {
  const first = recorded?.[blob] ?? resolution;
  const entries = [...(first === undefined ? [] : [[blob, first] as const]), ...Object.entries(recorded ?? {}).filter(([key]) => key !== blob)];
  return Object.fromEntries(entries.slice(0, keep));
}

/** venv.sh's parameters: build venvs/<requirements blob> of installDir with the host's uv. */
export function venvParams<Repairs extends pulumi.Input<number>, Recorded extends pulumi.Input<string | undefined> = undefined>(
  installDir: string,
  requirementsBlob: string,
  repairs: Repairs,
  recordedResolution?: Recorded,
) {
  return {
    INSTALL_DIR: installDir,
    REQUIREMENTS_BLOB: requirementsBlob,
    PYTHON,
    UV: UV_BINARY,
    UV_CACHE,
    RESOLUTION_FILE,
    RECORDED_RESOLUTION: recordedResolution,
    REPAIR: repairs,
    // Fetched and built as the build user, who never sees ENV_DIR, shared/ or backups/.
    BUILD_USER,
    ENV_DIR,
  };
}

/** The resolution venv.sh reported as its result (base64url of the `name==version` list). */
export function resolutionOf(stdout: string): string | undefined {
  const encoded = stepResultOf(stdout)?.resolution;
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64url").toString("utf8");
}

/** venvs/<requirements blob>: built once per requirements content with uv, shared by releases. */
export class PythonEnv extends pulumi.ComponentResource {
  public readonly venvDir: string;
  public readonly ready: RemoteStep;
  /** The `name==version` list the venv holds, as recorded when it was built. */
  public readonly resolution: pulumi.Output<string | undefined>;

  constructor(name: string, args: PythonEnvArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:python:PythonEnv", name, {}, opts);
    this.venvDir = `${args.host.installDir}/venvs/${args.requirementsBlob}`;
    const wanted = `${args.requirementsBlob} complete`;
    const venvLines = args.observedVenvs?.split("\n") ?? [];
    const builtOnServer = venvLines.includes(wanted);
    // Passed when the venv is to be built, and to a venv that was built from it, so that the step
    // stays as it was applied; a venv the server resolved itself keeps its step without it.
    const passRecord = !builtOnServer || venvLines.includes(`${args.requirementsBlob} built-from-record`);
    const state = driftCheck(
      `${name}-state`,
      wanted,
      // The wanted venv; else the one last applied, while the server still has it (new requirements
      // are a planned change, not drift); else the wanted one is missing.
      args.observedVenvs === undefined
        ? undefined
        : (lastApplied) => (builtOnServer ? wanted : lastApplied !== undefined && venvLines.includes(lastApplied) ? lastApplied : `${args.requirementsBlob} missing`),
      this,
      args.driftBaseline,
    );
    this.ready = remoteScript(
      `${name}-build`,
      {
        connection: args.host.connection,
        script: "venv",
        params: { ...venvParams(args.host.installDir, args.requirementsBlob, state.repairs, passRecord ? args.recordedResolution : undefined), MIN_FREE_MB: args.host.minFreeDiskMb },
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.resolution = this.ready.stdout.apply(resolutionOf);
    this.registerOutputs({ venvDir: this.venvDir });
  }
}
