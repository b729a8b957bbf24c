import * as pulumi from "@pulumi/pulumi";
import { Host } from "./host";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { installFile } from "../steps/installFile";

export const JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/60-ai4artsed.conf";

export interface JournaldLimits {
  /** Defaults to 1G. */
  readonly systemMaxUse: string;
  /** Defaults to 2G. */
  readonly systemKeepFree: string;
  /** Defaults to 1month. */
  readonly maxRetentionSec: string;
}

export function renderJournaldDropIn(limits: JournaldLimits): string {
  return `# Managed by the ai4artsed Pulumi program.
[Journal]
SystemMaxUse=${limits.systemMaxUse}
SystemKeepFree=${limits.systemKeepFree}
MaxRetentionSec=${limits.maxRetentionSec}
`;
}

export interface JournaldArgs {
  readonly host: Host;
  readonly limits: JournaldLimits;
  /** observe.sh's `journald` section; undefined when the server was not observed. */
  readonly observed?: string;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
}

/** The host-wide journald drop-in; one stack owns it (host.journald.manage) so stacks never fight. */
export class Journald extends pulumi.ComponentResource {
  public readonly dropInPath: pulumi.Output<string>;

  constructor(name: string, args: JournaldArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:journald:Journald", name, {}, opts);
    const restart = "systemctl restart systemd-journald";
    const text = renderJournaldDropIn(args.limits);
    const state = driftCheck(`${name}-state`, text, args.observed, this, args.driftBaseline);
    installFile(
      `${name}-dropin`,
      { connection: args.host.connection, file: JOURNALD_DROPIN, mode: "644", text, onChange: restart, repairs: state.repairs, removeOnDestroy: { onChange: restart } },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.dropInPath = pulumi.output(JOURNALD_DROPIN);
    this.registerOutputs({ dropInPath: this.dropInPath });
  }
}
