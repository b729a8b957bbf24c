import * as pulumi from "@pulumi/pulumi";
import { ServerConnection } from "./connection";
import { remoteScript } from "./remoteScript";
import { installFile } from "./installFile";

/** Where a timer and its service live. */
export interface TimerPaths {
  /** The timer's and its service's name without the suffix, e.g. ai4artsed-production-health. */
  readonly unit: string;
  readonly timerFile: string;
  readonly serviceFile: string;
}

export interface TimerStepsArgs {
  readonly connection: ServerConnection;
  readonly timer: TimerPaths;
  readonly timerText: string;
  /** The drift check's repair count: a stopped or disabled timer is started and enabled again. */
  readonly repairs: pulumi.Input<number>;
  /** Files the timer's service uses; removed with it on destroy. */
  readonly files: readonly string[];
  /** A shell check run before the timer is enabled; its failure fails the step. Defaults to none. */
  readonly check?: string;
  /** What the timer step waits for (the files its service runs). */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  /** What the removal step waits for. */
  readonly removeDependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The two steps every timer of this program has: its file installed, enabled and started (and
 * started again when drift review found it stopped or disabled), and, on destroy only, the
 * removal of the timer, its units and its files. Returns the timer unit's name.
 */
export function timerSteps(name: string, args: TimerStepsArgs, parent: pulumi.Resource): string {
  const timer = `${args.timer.unit}.timer`;
  const enable = `{ systemctl is-enabled --quiet ${timer} && systemctl is-active --quiet ${timer}; } || systemctl enable --now ${timer}`;
  installFile(
    `${name}-timer`,
    {
      connection: args.connection,
      file: args.timer.timerFile,
      mode: "644",
      text: args.timerText,
      onChange: `systemctl daemon-reload && systemctl enable ${timer} && systemctl restart ${timer}`,
      ensure: args.check ? `${args.check}; ${enable}` : enable,
      repairs: args.repairs,
    },
    { parent, dependsOn: args.dependsOn },
  );
  remoteScript(
    `${name}-remove`,
    {
      connection: args.connection,
      deleteScript: "timer-remove",
      deleteParams: { TIMER_UNIT: args.timer.unit, UNIT_FILES: [args.timer.serviceFile, args.timer.timerFile].join(" "), FILES: args.files.join(" ") },
    },
    { parent, dependsOn: args.removeDependsOn },
  );
  return timer;
}
