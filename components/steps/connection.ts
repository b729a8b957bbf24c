import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { StackConfig } from "../../config/schema";

/** How every remote step reaches the server: the config's server section, key as a secret. */
export interface ServerConnection {
  /** What runs the remote steps: the command provider plugin, or this program's own SSH provider. */
  readonly providers: "plugins" | "builtin";
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey: pulumi.Output<string>;
  readonly hostKey?: string;
  /**
   * The identity of this stack's layout on the server (DeployFacts.layoutId). Every step's create
   * script carries it, so a new or wiped server, whose layout has another id, re-runs every step.
   */
  readonly layoutId: string;
}

export function serverConnection(server: StackConfig["server"], providers: StackConfig["providers"], layoutId: string): ServerConnection {
  return {
    providers,
    layoutId,
    host: server.address,
    port: server.port,
    user: server.user,
    privateKey: pulumi.secret(server.privateKey),
    hostKey: server.hostKey,
  };
}

/** The command provider's form of the connection, host key pinned. */
export function commandConnection(connection: ServerConnection): command.types.input.remote.ConnectionArgs {
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    privateKey: connection.privateKey,
    hostKey: connection.hostKey,
    dialErrorLimit: 3,
    perDialTimeout: 20,
  };
}
