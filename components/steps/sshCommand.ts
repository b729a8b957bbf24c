import * as pulumi from "@pulumi/pulumi";
import { runOverSsh } from "../../lib/ssh";

/**
 * The program's own remote command, for machines where the command provider plugin cannot be
 * installed (`providers: builtin`). It keeps the command provider's contract as this program
 * uses it: `create` runs on create and again when `create` or `stdin` change; `delete` runs on
 * destroy; a failing command fails the step with its output. SSH goes through ssh2 with the
 * host key pinned, as at program time.
 */
export interface SshCommandInputs {
  readonly connection: pulumi.Input<{
    host: string;
    port: number;
    user: string;
    privateKey: pulumi.Input<string>;
    hostKey?: string;
  }>;
  readonly create?: pulumi.Input<string>;
  readonly delete?: pulumi.Input<string>;
  readonly stdin?: pulumi.Input<string>;
}

interface SshCommandState {
  readonly connection: { host: string; port: number; user: string; privateKey: string; hostKey?: string };
  readonly create?: string;
  readonly delete?: string;
  readonly stdin?: string;
  readonly stdout?: string;
}

async function runStep(state: SshCommandState, command: string): Promise<string> {
  const result = await runOverSsh(state.connection, command, { stdin: state.stdin, timeoutMs: 3_600_000 }).catch((err: Error) => {
    if (!/was lost|was closed/.test(err.message)) throw err;
    throw new Error(
      `${err.message}. A step that was running goes on or stops on the server as a closed SSH session leaves it; the activation ` +
        `(switch, watch window, revert) finishes there by itself. Run 'pulumi up' again: it reports how the activation ended and converges.`,
    );
  });
  if (result.code !== 0) {
    throw new Error(`remote step failed (exit ${result.code}) on ${state.connection.host}:\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

export const sshCommandProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SshCommandState) {
    const stdout = inputs.create ? await runStep(inputs, inputs.create) : "";
    return { id: "ssh-command", outs: { ...inputs, stdout } };
  },
  async diff(_id: string, olds: SshCommandState, news: SshCommandState) {
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    return { changes: !same(olds.create, news.create) || !same(olds.stdin, news.stdin) || !same(olds.delete, news.delete) || !same(olds.connection, news.connection) };
  },
  async update(_id: string, olds: SshCommandState, news: SshCommandState) {
    const rerun = news.create && (olds.create !== news.create || (olds.stdin ?? "") !== (news.stdin ?? ""));
    const stdout = rerun ? await runStep(news, news.create!) : (olds.stdout ?? "");
    return { outs: { ...news, stdout } };
  },
  async delete(_id: string, props: SshCommandState) {
    if (props.delete) await runStep({ ...props, stdin: undefined }, props.delete);
  },
};

export class SshCommand extends pulumi.dynamic.Resource {
  declare public readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: SshCommandInputs, opts: pulumi.CustomResourceOptions = {}) {
    super(sshCommandProvider, name, { ...args, stdout: undefined }, { ...opts, additionalSecretOutputs: ["connection", "stdin"] }, "ai4artsed", "SshCommand");
  }
}
