import * as pulumi from "@pulumi/pulumi";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { Host } from "./host";
import { remoteScript } from "../steps/remoteScript";

export interface FirewallArgs {
  readonly host: Host;
  /** Comment on this stack's rules, e.g. ai4artsed-production; only these are ever removed. */
  readonly stackTag: string;
  /** SSH port allowed before ufw is enabled. */
  readonly sshPort: number;
  /** Ports denied from outside (the app's port among them); loopback stays open. */
  readonly denyPorts: readonly number[];
  /** observe.sh's `firewall` section; undefined when the server was not observed. */
  readonly observed?: string;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
}

export const SSH_RULE_TAG = "ai4artsed-ssh";

/** The firewall as observe.sh prints it once this stack's rules are in place. */
export function expectedFirewallState(sshPort: number, stackTag: string, denyPorts: readonly number[]): string {
  const rules = [`ufw allow ${sshPort}/tcp comment '${SSH_RULE_TAG}'`, ...denyPorts.map((port) => `ufw deny ${port}/tcp comment '${stackTag}'`)];
  return ["status: active", "incoming: deny", ...rules.sort()].join("\n");
}

/** ufw: default deny incoming, SSH allowed, this stack's ports denied; destroy removes only its own rules. */
export class Firewall extends pulumi.ComponentResource {
  public readonly deniedPorts: pulumi.Output<number[]>;

  constructor(name: string, args: FirewallArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:firewall:Firewall", name, {}, opts);
    const ports = [...new Set(args.denyPorts)].sort((a, b) => a - b);
    const state = driftCheck(`${name}-state`, expectedFirewallState(args.sshPort, args.stackTag, ports), args.observed, this, args.driftBaseline);
    const params = { STACK_TAG: args.stackTag, SSH_PORT: args.sshPort, DENY_PORTS: ports.join(" ") };
    remoteScript(
      `${name}-rules`,
      {
        connection: args.host.connection,
        script: "firewall",
        params: { ...params, ACTION: "apply", REPAIR: state.repairs, SSH_RULE_TAG },
        deleteScript: "firewall",
        deleteParams: { ...params, ACTION: "remove", SSH_RULE_TAG },
      },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.deniedPorts = pulumi.output(ports);
    this.registerOutputs({ deniedPorts: this.deniedPorts });
  }
}
