/**
 * Benchmark: this program against the old way (bench/baseline-deploy.sh), on one test server,
 * the same fixture repository, the same commits and the same load, in the same run.
 * Prints one table of medians over ROUNDS runs. Not part of `npm test`; run `npm run bench`.
 */
import * as fs from "fs";
import * as path from "path";
import {
  mutate,
  publishRepo,
  SERVER_REPO,
  sh,
  shOk,
  sshLoginsDuring,
  startTestBed,
  stopTestServer,
  TestServer,
} from "../test/host/harness";
import { LoadSummary, startLoad } from "../test/host/load";
import { PulumiWorkspace } from "../test/e2e/workspace";
import { DEFAULT_SYSTEM_PACKAGES } from "../config/defaults";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NAME = `ai4bench${process.pid % 1000}`;
const PROGRAM_PORT = 17801;
const BASELINE_PORT = 17811;
const BASELINE_DIR = "/opt/ai4artsed-baseline";
const BASELINE_UNIT = "ai4artsed-baseline.service";
const BASELINE_SCRIPT = "/root/baseline-deploy.sh";
const PROGRAM_UNIT = "ai4artsed-production";

type System = "baseline" | "program";
type Scenario = "code" | "requirements" | "noop" | "rollback";

interface Sample {
  readonly seconds: number;
  readonly quickFailed: number;
  readonly slowFailed: number;
  readonly commands?: number;
  readonly restarts?: number;
}

const samples = new Map<string, Sample[]>();
function add(system: System, scenario: Scenario, sample: Sample) {
  const key = `${system}/${scenario}`;
  samples.set(key, [...(samples.get(key) ?? []), sample]);
}

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

async function setUpBaseline(server: TestServer): Promise<void> {
  // The old scripts ran on a server prepared by hand: the app's runtime libraries installed.
  await shOk(server, `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${DEFAULT_SYSTEM_PACKAGES.join(" ")} >/dev/null`);
  await sh(server, `cat > ${BASELINE_SCRIPT} && chmod 755 ${BASELINE_SCRIPT}`, fs.readFileSync(path.join(__dirname, "baseline-deploy.sh"), "utf8"));
  await shOk(server, `git clone --quiet --branch main ${SERVER_REPO} ${BASELINE_DIR} && python3 -m venv ${BASELINE_DIR}/venv`);
  const unit = [
    "[Unit]",
    "Description=AI4ArtsEd as the old scripts ran it (benchmark baseline)",
    "After=network-online.target",
    "[Service]",
    `WorkingDirectory=${BASELINE_DIR}/devserver`,
    `Environment=PORT=${BASELINE_PORT} SECRET_KEY=bench-baseline`,
    `ExecStart=${BASELINE_DIR}/venv/bin/python server.py`,
    "Restart=always",
    "RestartSec=10",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
  await sh(server, `cat > /etc/systemd/system/${BASELINE_UNIT} && systemctl daemon-reload && systemctl enable --quiet ${BASELINE_UNIT}`, unit);
  await baselineDeploy(server);
}

async function baselineDeploy(server: TestServer, revision = ""): Promise<{ seconds: number; commands: number }> {
  const started = Date.now();
  // pip unpacks into TMPDIR: on disk, as /tmp was where the old scripts ran (the test server's is a small tmpfs).
  const out = await shOk(server, `TMPDIR=/var/tmp ${BASELINE_SCRIPT} ${BASELINE_DIR} ${BASELINE_UNIT} main ${revision}`);
  return { seconds: (Date.now() - started) / 1000, commands: Number(out.match(/commands: (\d+)/)![1]) };
}

let workspace: PulumiWorkspace;

/** What the user runs: `pulumi up` of the production stack (the real engine, file backend). */
async function programDeploy(server: TestServer, revision?: string): Promise<{ seconds: number; commands: number }> {
  if (revision) workspace.set("app.revision", revision);
  else workspace.run(["config", "rm", "--path", "app.revision"]);
  const { result, logins } = await sshLoginsDuring(server, () => workspace.ok(["up", "--yes", "--skip-preview"]));
  return { seconds: result.seconds, commands: logins };
}

async function mainPids(server: TestServer, system: System): Promise<string> {
  const units = system === "baseline" ? [BASELINE_UNIT] : [`${PROGRAM_UNIT}@blue.service`, `${PROGRAM_UNIT}@green.service`];
  return shOk(server, `systemctl show -P MainPID ${units.join(" ")} | paste -sd,`);
}

/** One deploy of one system under load; its time, its failed requests, and whether the app restarted. */
async function measure(server: TestServer, system: System, scenario: Scenario, revision?: string): Promise<void> {
  const load = await startLoad(server, { port: system === "baseline" ? BASELINE_PORT : PROGRAM_PORT, rate: 20, slow: 3, slowSeconds: 5, maxSeconds: 240 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const pidsBefore = await mainPids(server, system);
  const run: { seconds: number; commands: number } =
    system === "baseline" ? await baselineDeploy(server, revision ?? "") : await programDeploy(server, revision);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const summary: LoadSummary = await load.stop();
  const restarted = (await mainPids(server, system)) !== pidsBefore ? 1 : 0;
  add(system, scenario, { seconds: run.seconds, quickFailed: summary.quick_failed, slowFailed: summary.slow_failed, commands: run.commands, restarts: restarted });
  log(`${system} ${scenario}: ${run.seconds.toFixed(1)} s, failed quick ${summary.quick_failed}/${summary.quick_sent} slow ${summary.slow_failed}/${summary.slow_sent}, ${run.commands} commands, restarted ${restarted}`);
}

async function bothSystems(server: TestServer, round: number, scenario: Scenario, revision?: string): Promise<void> {
  // Alternate who goes first, so caches warmed by one (pip, npm) favour neither.
  const order: System[] = round % 2 === 0 ? ["program", "baseline"] : ["baseline", "program"];
  for (const system of order) await measure(server, system, scenario, revision);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function cell(values: number[], digits: number): string {
  const m = median(values).toFixed(digits);
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? m : `${m} (${lo}-${hi})`;
}

function ratio(baseline: number, program: number): string {
  if (program === 0) return baseline === 0 ? "=" : "inf";
  return `${(baseline / program).toFixed(1)}x`;
}

function printTable(): void {
  const rows: Array<[string, Scenario, (s: Sample) => number, number]> = [
    ["code-only deploy: wall time [s]", "code", (s) => s.seconds, 1],
    ["code-only deploy: failed quick / slow requests", "code", (s) => s.quickFailed + s.slowFailed, 0],
    ["requirements change: wall time [s]", "requirements", (s) => s.seconds, 1],
    ["requirements change: failed requests", "requirements", (s) => s.quickFailed + s.slowFailed, 0],
    ["no-op run: wall time [s] (this program: the engine's own overhead)", "noop", (s) => s.seconds, 1],
    ["no-op run: failed requests", "noop", (s) => s.quickFailed + s.slowFailed, 0],
    ["no-op run: remote commands executed (this program: SSH sessions)", "noop", (s) => s.commands ?? 0, 0],
    ["no-op run: app restarts", "noop", (s) => s.restarts ?? 0, 0],
    ["rollback to previous commit: wall time [s]", "rollback", (s) => s.seconds, 1],
    ["rollback to previous commit: failed requests", "rollback", (s) => s.quickFailed + s.slowFailed, 0],
  ];
  const header = ["metric (median of runs; min-max)", "old way", "this program", "old / this"];
  const lines = rows.map(([label, scenario, pick, digits]) => {
    const base = (samples.get(`baseline/${scenario}`) ?? []).map(pick);
    const prog = (samples.get(`program/${scenario}`) ?? []).map(pick);
    if (/failed/.test(label)) {
      const split = (system: System) => {
        const list = samples.get(`${system}/${scenario}`) ?? [];
        return `${cell(list.map((s) => s.quickFailed), 0)} / ${cell(list.map((s) => s.slowFailed), 0)}`;
      };
      return [label.replace("failed requests", "failed quick / slow requests"), split("baseline"), split("program"), ratio(median(base), median(prog))];
    }
    return [label, cell(base, digits), cell(prog, digits), ratio(median(base), median(prog))];
  });
  const unique = lines.filter((line, i) => lines.findIndex((l) => l[0] === line[0]) === i);
  const widths = header.map((h, i) => Math.max(h.length, ...unique.map((l) => l[i].length)));
  const format = (cols: string[]) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(format(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const line of unique) console.log(format(line));
  console.log(
    `\n${ROUNDS} runs each, same server, repo, commits and load (inside the server: 20 quick GETs/s over keep-alive ` +
      "plus 3 slow 5-s requests always in flight). This program: `pulumi up --yes --skip-preview` of a production " +
      "stack (blue-green, providers builtin, file backend), timed as the user waits for it; a rollback pins app.revision. " +
      "Old way: bench/baseline-deploy.sh in a plain checkout with its own unit; its rollback checks out the previous commit and runs the same steps.",
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  try {
    const { server, repo } = await startTestBed(NAME);
    log("first deploys (not measured)");
    workspace = new PulumiWorkspace("production");
    workspace.init(server, SERVER_REPO, "production");
    await programDeploy(server);
    await setUpBaseline(server);
    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1} of ${ROUNDS}`);
      mutate(repo, "main", "code");
      await publishRepo(server, repo);
      await bothSystems(server, round, "code");
      await bothSystems(server, round, "noop");
      const changed = mutate(repo, "main", "requirements");
      await publishRepo(server, repo);
      await bothSystems(server, round, "requirements");
      const previous = (await shOk(server, `git --git-dir=${SERVER_REPO} rev-parse ${changed}~1`)).trim();
      await bothSystems(server, round, "rollback", previous);
      log("back to the branch head (not measured)");
      await programDeploy(server);
      await baselineDeploy(server);
    }
    printTable();
    log(`done in ${((Date.now() - started) / 60000).toFixed(1)} min`);
  } finally {
    stopTestServer(NAME);
    workspace?.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
