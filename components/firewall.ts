import * as pulumi from "@pulumi/pulumi";
import { Host } from "./host";
import { remoteScript } from "./remoteScript";

export interface FirewallArgs {
  readonly host: Host;
  /** Comment on this stack's rules, e.g. ai4artsed-production; only these are ever removed. */
  readonly stackTag: string;
  /** SSH port allowed before ufw is enabled. */
  readonly sshPort: number;
  /** Ports denied from outside (the app's port among them); loopback stays open. */
  readonly denyPorts: readonly number[];
}

/** ufw: default deny incoming, SSH allowed, this stack's ports denied; destroy removes only its own rules. */
export class Firewall extends pulumi.ComponentResource {
  public readonly deniedPorts: pulumi.Output<number[]>;

  constructor(name: string, args: FirewallArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:firewall:Firewall", name, {}, opts);
    const ports = [...new Set(args.denyPorts)].sort((a, b) => a - b);
    const params = { STACK_TAG: args.stackTag, SSH_PORT: args.sshPort, DENY_PORTS: ports.join(" ") };
    remoteScript(
      `${name}-rules`,
      {
        connection: args.host.connection,
        script: "firewall",
        params: { ...params, ACTION: "apply" },
        deleteScript: "firewall",
        deleteParams: { ...params, ACTION: "remove" },
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.deniedPorts = pulumi.output(ports);
    this.registerOutputs({ deniedPorts: this.deniedPorts });
  }
}
