import * as pulumi from "@pulumi/pulumi";
import { ServerConnection } from "./connection";
import { remoteScript, RemoteStep } from "./remoteScript";

export interface InstallFileArgs {
  readonly connection: ServerConnection;
  /** Where the file goes on the server. */
  readonly file: string;
  readonly mode: "600" | "644" | "755";
  /** The file's whole text; fed through stdin, so it may be secret. */
  readonly text: pulumi.Input<string>;
  /** Run when the file changed, e.g. a daemon-reload or a restart. */
  readonly onChange?: string;
  /** Run on every apply of the step, changed or not. */
  readonly ensure?: string;
  /** One of the service's settings (a release is the commit with them): keep the replaced file until the activation decides. */
  readonly keepLastGood?: boolean;
  /** The drift check's repair count: a repaired drift runs the step again. */
  readonly repairs?: pulumi.Input<number>;
  /** Remove the file when the resource is destroyed, then run `onChange` (absent: the file stays). */
  readonly removeOnDestroy?: { readonly onChange?: string };
}

/** A file this stack owns on the server (install-file.sh), written atomically when its text changes. */
export function installFile(name: string, args: InstallFileArgs, opts: pulumi.CustomResourceOptions): RemoteStep {
  return remoteScript(
    name,
    {
      connection: args.connection,
      script: "install-file",
      params: { TARGET_FILE: args.file, FILE_MODE: args.mode, ON_CHANGE: args.onChange, ENSURE: args.ensure, KEEP_LAST_GOOD: args.keepLastGood ? 1 : undefined, REPAIR: args.repairs },
      stdin: args.text,
      ...(args.removeOnDestroy
        ? { deleteScript: "remove-file" as const, deleteParams: { TARGET_FILE: args.file, ON_CHANGE: args.removeOnDestroy.onChange } }
        : {}),
    },
    opts,
  );
}
