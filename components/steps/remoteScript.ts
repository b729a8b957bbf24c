import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteInvocation, renderScript, ScriptName, ScriptParams } from "./commands";
import { commandConnection, ServerConnection } from "./connection";
import { SshCommand } from "./sshCommand";

/** Script parameters; values may come from other resources. They must never be secrets. */
export type RemoteParams = Readonly<Record<string, pulumi.Input<string | number | boolean | undefined>>>;

function renderInvocation(script: ScriptName, params: RemoteParams, user: string): pulumi.Output<string> {
  return pulumi.output(params).apply((values) => remoteInvocation(renderScript(script, values as ScriptParams), user));
}

export interface RemoteScriptArgs {
  readonly connection: ServerConnection;
  /** Script run on create, and again whenever its rendered text or stdin changes. */
  readonly script?: ScriptName;
  readonly params?: RemoteParams;
  /** Fed to the script's stdin: the only way secrets reach the server. */
  readonly stdin?: pulumi.Input<string>;
  /** Script run when the resource is destroyed; it must remove only what this stack made. */
  readonly deleteScript?: ScriptName;
  readonly deleteParams?: RemoteParams;
}

/** A remote step as later steps see it. */
export type RemoteStep = pulumi.CustomResource & { readonly stdout: pulumi.Output<string> };

/** The lines a step printed as `[step] warning: ...` (log "warning: ..." in remote/lib.sh), for the deploy's output. */
export function stepWarningsOf(stdout: string): string[] {
  return stdout.split("\n").filter((line) => /^\[[^\]]+\] warning: /.test(line));
}

/** One remote action: a real script from components/remote, rendered with its parameters. */
export function remoteScript(name: string, args: RemoteScriptArgs, opts: pulumi.CustomResourceOptions): RemoteStep {
  const step = remoteStep(name, args, opts);
  // Shown under the step on every run that has its output: they describe what it left serving.
  step.stdout.apply((stdout) => stepWarningsOf(stdout ?? "").forEach((line) => pulumi.log.warn(line, step)));
  return step;
}

function remoteStep(name: string, args: RemoteScriptArgs, opts: pulumi.CustomResourceOptions): RemoteStep {
  const user = args.connection.user;
  const create = args.script ? renderInvocation(args.script, { ...args.params, LAYOUT_ID: args.connection.layoutId }, user) : undefined;
  const del = args.deleteScript ? renderInvocation(args.deleteScript, args.deleteParams ?? {}, user) : undefined;
  if (args.connection.providers === "builtin") {
    const { host, port, user: login, privateKey, hostKey } = args.connection;
    return new SshCommand(name, { connection: { host, port, user: login, privateKey, hostKey }, create, delete: del, stdin: args.stdin }, opts);
  }
  return new command.remote.Command(
    name,
    {
      connection: commandConnection(args.connection),
      create,
      delete: del,
      stdin: args.stdin,
      // Previous output in the environment needs AcceptEnv on the server; nothing here reads it.
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

/** The machine-readable result a step printed as its last line (step_result in remote/lib/result.sh), if any. */
export function stepResultOf(stdout: string): Readonly<Record<string, string>> | undefined {
  const last = stdout.trimEnd().split("\n").pop() ?? "";
  const match = last.match(/^@@result (\{.*\})$/);
  return match ? (JSON.parse(match[1]) as Record<string, string>) : undefined;
}
