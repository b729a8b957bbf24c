import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { createTwoFilesPatch } from "diff";

/**
 * Drift review. The command provider cannot read servers, so the program reads them itself:
 * one SSH session at program time (observe.sh) reports what the server has of each piece a
 * stack owns. A DriftCheck per piece holds what the stack wants (`expected`) and what the
 * server has (`onServer`). After an apply it records the server as matching; when a later
 * observation differs, `preview` shows the check updating with the old and new server state,
 * and `up` bumps `repairs`, which is a parameter of the step that puts the piece right.
 */
export interface DriftCheckInputs {
  /** What the stack wants on the server, as observe.sh would print it. */
  readonly expected: pulumi.Input<string>;
  /** What observe.sh printed; equal to `expected` when nothing was observed. */
  readonly onServer: pulumi.Input<string>;
}

interface DriftState {
  readonly expected: string;
  readonly onServer: string;
  readonly repairs: number;
}

// Serialized into the engine's dynamic provider: self-contained, no imports.
export const driftProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: DriftState) {
    return { id: "drift-check", outs: { expected: inputs.expected, onServer: inputs.expected, repairs: 0 } };
  },
  async diff(_id: string, olds: DriftState, news: DriftState) {
    return { changes: olds.expected !== news.expected || olds.onServer !== news.onServer };
  },
  async update(_id: string, olds: DriftState, news: DriftState) {
    return { outs: { expected: news.expected, onServer: news.expected, repairs: (olds.repairs ?? 0) + 1 } };
  },
};

export class DriftCheck extends pulumi.dynamic.Resource {
  /** Counts the applies that found the server differing or the wish changed; feeds the repairing step. */
  declare public readonly repairs: pulumi.Output<number>;
  declare public readonly onServer: pulumi.Output<string>;

  constructor(name: string, args: DriftCheckInputs, opts: pulumi.CustomResourceOptions = {}) {
    super(driftProvider, name, { ...args, repairs: undefined }, opts, "ai4artsed", "DriftCheck");
  }
}

/** What observe.sh reported, by section; absent when the program did not look (unit tests). */
export type ServerObservation = ReadonlyMap<string, string>;

export function parseObservation(stdout: string): ServerObservation {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const header = line.match(/^@@ (\S+)$/);
    if (header) {
      current = [];
      sections.set(header[1], current);
    } else if (current) {
      current.push(line);
    }
  }
  return new Map([...sections].map(([name, lines]) => [name, lines.join("\n").replace(/\n+$/, "")]));
}

/** Compare like with like: observe.sh output carries no trailing newline. */
export function normalizeState(text: string): string {
  return text.replace(/\n+$/, "");
}

/** Short states show as they are; long ones (files) as a checksum, their difference in a message. */
export function stateSummary(text: string): string {
  return text.length <= 120 && !text.includes("\n") ? text : `sha256:${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** What preview prints under a drifted check: a unified diff from the stack's wish to the server. */
export function driftReport(name: string, expected: string, onServer: string): string {
  const patch = createTwoFilesPatch("wanted by the stack", "on the server", `${expected}\n`, `${onServer}\n`, "", "", { context: 2 });
  return `drift in ${name}: the server differs from what this stack wants; 'pulumi up' puts it back:\n${patch
    .split("\n")
    .filter((line) => !line.startsWith("===="))
    .map((line) => line.replace(/\t$/, ""))
    .join("\n")}`;
}

/** What the stack applied last, per check: its previous `driftBaseline` output (summaries, as the checks hold them). */
export type AppliedStates = Readonly<Record<string, string>>;

/**
 * One stack's drift baseline: what its last update applied of each piece, and what this run
 * wants, for the next one. A server that differs from the wish but still holds what the stack
 * last applied has not drifted: the wish changed (a new commit, a new setting), a planned change.
 */
export class DriftBaseline {
  private readonly wanted = new Map<string, pulumi.Output<string>>();
  private readonly previous: pulumi.Output<AppliedStates | undefined>;

  constructor(previous: pulumi.Input<AppliedStates | undefined>) {
    this.previous = pulumi.output(previous);
  }

  /** The summary of what the last update applied for this check, if the stack recorded it. */
  lastApplied(name: string): pulumi.Output<string | undefined> {
    return this.previous.apply((applied) => applied?.[name]);
  }

  record(name: string, wanted: pulumi.Output<string>): void {
    this.wanted.set(name, wanted);
  }

  /** What this run applies, by check: the stack's `driftBaseline` output. */
  applied(): pulumi.Output<AppliedStates> {
    const names = [...this.wanted.keys()];
    return pulumi.all(names.map((name) => this.wanted.get(name)!)).apply((values) => Object.fromEntries(names.map((name, i) => [name, values[i]])));
  }
}

/**
 * A check for one piece, parented to the component that owns it. When the server differs from
 * the wish, the preview shows the check changing; when it also differs from what the stack last
 * applied (a hand edit, not a planned change), a warning on it shows the difference.
 */
export function driftCheck(
  name: string,
  expected: pulumi.Input<string>,
  onServer: string | ((lastApplied: string | undefined) => string) | undefined,
  parent: pulumi.Resource,
  baseline: DriftBaseline,
): DriftCheck {
  const wanted = pulumi.output(expected).apply(normalizeState);
  const lastApplied = baseline.lastApplied(name);
  // A function reads the server against what was applied last (the venvs: which one it still has).
  const observed = onServer === undefined ? undefined : lastApplied.apply((last) => normalizeState(typeof onServer === "function" ? onServer(last) : onServer));
  const check = new DriftCheck(name, { expected: wanted.apply(stateSummary), onServer: (observed ?? wanted).apply(stateSummary) }, { parent });
  baseline.record(name, wanted.apply(stateSummary));
  if (observed !== undefined) {
    pulumi.all([wanted, observed, lastApplied]).apply(([text, server, applied]) => {
      if (text !== server && stateSummary(server) !== applied) pulumi.log.warn(driftReport(name, text, server), check);
    });
  }
  return check;
}
