/**
 * The engine's own costs: how soon `pulumi preview` reports a config mistake, and where a no-op
 * `pulumi up` spends its time, read from the engine's log (-v=9, glog timestamps).
 */
import { spawn } from "child_process";
import * as path from "path";
import { SERVER_REPO, TestServer } from "../tools/testserver/client";
import { PulumiWorkspace } from "../tools/workspace";
import { note } from "./table";

interface Streamed {
  /** Seconds from the start until the pattern first showed on stdout or stderr. */
  readonly matchedAfter?: number;
  readonly exitedAfter: number;
  readonly code: number;
  readonly output: string;
}

/** Run `pulumi <args>` in a workspace, noting when a pattern first shows in its output. */
export function streamPulumi(workspace: PulumiWorkspace, args: string[], pattern: RegExp): Promise<Streamed> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", [...args, "--non-interactive", "--stack", workspace.stack], { cwd: workspace.dir, env: workspace.env });
    let output = "";
    let matchedAfter: number | undefined;
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (matchedAfter === undefined && pattern.test(output)) matchedAfter = elapsed();
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (code) => resolve({ matchedAfter, exitedAfter: elapsed(), code: code ?? 255, output }));
  });
}

let broken: PulumiWorkspace | undefined;

/** `pulumi preview` of a stack whose app.port is no number: when the message shows, when it exits. */
export async function configErrorRound(server: TestServer): Promise<void> {
  if (!broken) {
    broken = new PulumiWorkspace("production");
    broken.init(server, SERVER_REPO, "production");
    broken.set("app.port", "seventeen");
  }
  const run = await streamPulumi(broken, ["preview"], /ai4artsed:app\.port/);
  if (run.code === 0 || run.matchedAfter === undefined) throw new Error(`preview did not report the config mistake:\n${run.output}`);
  note("config error: reported after [s] (pulumi preview starts at 0)", "program", run.matchedAfter, 2, "-");
  note("config error: pulumi preview exits after [s]", "program", run.exitedAfter, 2, "-");
}

let floor: PulumiWorkspace | undefined;

/**
 * The engine's floor on this machine: the same CLI, language host and node running a program
 * that registers no resource (bench/floor). No deploy of any program can be faster than its no-op
 * up, nor report a mistake sooner than its failing preview.
 */
export async function engineFloorRound(): Promise<void> {
  if (!floor) {
    floor = new PulumiWorkspace("floor", path.join(__dirname, "floor"), ["Pulumi.yaml", "package.json", "program.js"]);
    floor.ok(["stack", "init", "floor"]);
    floor.ok(["up", "--yes", "--skip-preview"]);
  }
  note("engine floor: no-op up of a program with no resources [s]", "program", floor.ok(["up", "--yes", "--skip-preview"]).seconds, 2, "-");
  floor.set("fail", "true");
  const failed = await streamPulumi(floor, ["preview"], /floor:fail is set/);
  floor.run(["config", "rm", "fail"]);
  if (failed.code === 0 || failed.matchedAfter === undefined) throw new Error(`the floor's failing preview did not fail:\n${failed.output}`);
  note("engine floor: a program that fails at once, reported after [s]", "program", failed.matchedAfter, 2, "-");
}

export function removeEngineWorkspaces(): void {
  broken?.remove();
  floor?.remove();
}

interface LogLine {
  readonly t: number;
  readonly msg: string;
}

/** The engine's log lines (JSON, one a line: {"time": ISO, "msg": ...}) with epoch seconds. */
function logLines(output: string): LogLine[] {
  return output.split("\n").flatMap((line) => {
    if (!line.startsWith('{"time":')) return [];
    try {
      const entry = JSON.parse(line) as { time: string; msg: string };
      return [{ t: Date.parse(entry.time) / 1000, msg: entry.msg }];
    } catch {
      return [];
    }
  });
}

/** The phases of one run in seconds (and the checkpoint count), from the engine's log. */
export function phasesOf(output: string, startedAt: number, exitedAfter: number): Record<string, number> {
  const lines = logLines(output);
  const first = (pattern: RegExp) => lines.find((l) => pattern.test(l.msg));
  const last = (pattern: RegExp) => [...lines].reverse().find((l) => pattern.test(l.msg));
  const run = first(/^langhost\[nodejs\]\.Run\(.*\) executing/);
  const launched = [...lines].reverse().find((l) => /Launching plugin 'nodejs'/.test(l.msg) && run !== undefined && l.t <= run.t);
  const programStart = first(/Running program '.*'/);
  const timing = first(/ai4artsed timing: node started \d+ ms before the SSH inspection, which took \d+ ms/);
  const firstResource = first(/^ResourceMonitor\.RegisterResource received: t=(?!pulumi:pulumi:Stack)/);
  const lastResource = last(/^ResourceMonitor\.RegisterResource(Outputs)? received/);
  const ran = first(/^langhost\[nodejs\]\.Run\(.*\) success/);
  const steps = lines.filter((l) => /^StepExecutor worker\(-?\d+\): (applying step|step .* retired)/.test(l.msg));
  const end = startedAt + exitedAfter;
  const span = (a?: { t: number } | number, b?: { t: number } | number) => {
    const [x, y] = [typeof a === "number" ? a : a?.t, typeof b === "number" ? b : b?.t];
    return x === undefined || y === undefined ? NaN : y - x;
  };
  const ssh = timing ? Number(timing.msg.match(/which took (\d+) ms/)![1]) / 1000 : NaN;
  return {
    "CLI: start until it launches the language host": span(startedAt, launched),
    "language host: launch until it runs node": span(launched, run),
    "node start: node, SDK and ts-node loaded, until the program is required": span(run, programStart),
    "program: load, config, SSH inspection, until its first resource": span(programStart, firstResource),
    "  of which the SSH inspection at program time": ssh,
    "program: first to last resource registered (steps run meanwhile)": span(firstResource, lastResource),
    "steps: first to last the engine logged": steps.length ? steps[steps.length - 1].t - steps[0].t : NaN,
    "after the program returned until exit (state, shutdown)": span(ran, end),
    "state: checkpoints written": lines.filter((l) => /^Saved stack .* checkpoint/.test(l.msg)).length,
  };
}

/** A no-op `pulumi up` with the engine's log on stderr; its phases as rows. */
export async function enginePhases(workspace: PulumiWorkspace): Promise<void> {
  const startedAt = Date.now() / 1000;
  const run = await streamPulumi(workspace, ["up", "--yes", "--skip-preview", "--logtostderr", "-v=9"], /$^/);
  if (run.code !== 0) throw new Error(`the no-op up with the engine's log failed:\n${run.output.slice(-4000)}`);
  for (const [phase, value] of Object.entries(phasesOf(run.output, startedAt, run.exitedAfter))) {
    const count = phase.startsWith("state");
    note(`engine, no-op up with -v=9: ${phase}${count ? "" : " [s]"}`, "program", value, count ? 0 : 2, "-");
  }
  // Why the engine wrote state in a run that changed nothing: the snapshot manager says.
  const reasons = new Map<string, number>();
  for (const { msg } of logLines(run.output)) {
    const reason = msg.match(/^SnapshotManager: mustWrite\(\) true because of (\w+)/)?.[1];
    if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  process.stderr.write(`[bench] no-op up: checkpoint writes wanted because of ${[...reasons].map(([r, n]) => `${r} x${n}`).join(", ") || "nothing"}\n`);
  note("engine, no-op up with -v=9: whole run [s]", "program", run.exitedAfter, 2, "-");
}
