/**
 * Benchmark: this program against the old way (bench/baseline-deploy.sh), on one test server,
 * the same fixture repository, the same commits and the same load, in the same run.
 * Prints one table of medians over ROUNDS runs. Not part of `npm test`; run `npm run bench`.
 */
import * as fs from "fs";
import * as path from "path";
import {
  TEST_STABLE_SECONDS,
  mutate,
  publishRepo,
  SERVER_REPO,
  sh,
  shOk,
  sshLoginsDuring,
  startTestBed,
  stopTestServer,
  TestServer,
} from "../tools/testserver/client";
import { LoadSummary, startLoad } from "../tools/load/load";
import { PulumiWorkspace } from "../tools/workspace";
import { DEFAULT_SYSTEM_PACKAGES } from "../config/defaults";
import { configErrorRound, engineFloorRound, enginePhases, removeEngineWorkspaces } from "./engine";
import { setUpHeavy, heavyRound } from "./heavy";
import { note, printTable } from "./table";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NAME = `ai4bench${process.pid % 1000}`;
const PROGRAM_PORT = 17801;
const BASELINE_PORT = 17811;
const BASELINE_DIR = "/opt/ai4artsed-baseline";
const BASELINE_UNIT = "ai4artsed-baseline.service";
const BASELINE_SCRIPT = "/root/baseline-deploy.sh";
const PROGRAM_UNIT = "ai4artsed-production";

type System = "baseline" | "program";
type Scenario = "code" | "window" | "requirements" | "noop" | "rollback" | "frontend";

const TITLES: Record<Scenario, string> = {
  code: "code-only deploy",
  window: "code-only deploy, production's default watch window (120 s)",
  frontend: "frontend change",
  requirements: "requirements change",
  noop: "no-op run",
  rollback: "rollback to previous commit",
};

/** Rows in print order: every scenario's figures, then the venv, config and engine rows. */
function declareRows(): void {
  for (const scenario of ["code", "window", "frontend", "requirements", "noop", "rollback"] as Scenario[]) {
    const title = TITLES[scenario];
    if (scenario !== "noop") note(`${title}: until the new release answers [s]`, "program", undefined, 2);
    note(`${title}: wall time [s]${scenario === "noop" ? " (this program: the engine's own overhead)" : ""}`, "program", undefined);
    note(`${title}: failed requests (quick + slow)`, "program", undefined, 0);
    if (scenario === "noop") {
      note("no-op run: remote commands executed (this program: SSH sessions)", "program", undefined, 0);
      note("no-op run: app restarts", "program", undefined, 0);
    }
  }
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

/** The started release that answers on a port, as the load generator names it (loadgen.py release_of). */
async function releaseOn(server: TestServer, port: number): Promise<string> {
  const info = JSON.parse(await shOk(server, `curl -sf http://127.0.0.1:${port}/api/schema/info`));
  return `code_revision=${info.code_revision} extras=${Object.keys(info.extras ?? {}).sort().join(",")} pid=${info.pid}`;
}

/** One deploy of one system under load; its time, its failed requests, and whether the app restarted. */
async function measure(server: TestServer, system: System, scenario: Scenario, revision?: string): Promise<void> {
  const port = system === "baseline" ? BASELINE_PORT : PROGRAM_PORT;
  const load = await startLoad(server, { port, rate: 20, slow: 3, slowSeconds: 5, maxSeconds: 240 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const pidsBefore = await mainPids(server, system);
  const before = await releaseOn(server, port);
  const started = Date.now() / 1000;
  const run: { seconds: number; commands: number } =
    system === "baseline" ? await baselineDeploy(server, revision ?? "") : await programDeploy(server, revision);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const summary: LoadSummary = await load.stop();
  const after = await releaseOn(server, port);
  // The server's clock is this machine's (a container on the same kernel).
  const serveSeconds = after !== before && summary.first_seen[after] ? summary.first_seen[after] - started : undefined;
  const restarted = (await mainPids(server, system)) !== pidsBefore ? 1 : 0;
  const title = TITLES[scenario];
  if (scenario !== "noop") note(`${title}: until the new release answers [s]`, system, serveSeconds, 2);
  note(`${title}: wall time [s]${scenario === "noop" ? " (this program: the engine's own overhead)" : ""}`, system, run.seconds);
  note(`${title}: failed requests (quick + slow)`, system, summary.quick_failed + summary.slow_failed, 0);
  if (scenario === "noop") {
    note("no-op run: remote commands executed (this program: SSH sessions)", system, run.commands, 0);
    note("no-op run: app restarts", system, restarted, 0);
  }
  log(
    `${system} ${scenario}: ${run.seconds.toFixed(1)} s, new release answered after ${serveSeconds?.toFixed(2) ?? "-"} s, ` +
      `failed quick ${summary.quick_failed}/${summary.quick_sent} slow ${summary.slow_failed}/${summary.slow_sent}, ${run.commands} commands, restarted ${restarted}`,
  );
}

/**
 * The app's own start on this server, part of every deploy's floor: from a restart of the old
 * way's unit (no load) until the app answers.
 */
async function appStartRound(server: TestServer): Promise<void> {
  const ms = await shOk(
    server,
    `s=$(date +%s%N); systemctl restart ${BASELINE_UNIT}; ` +
      `timeout 120 sh -c 'until curl -sf -o /dev/null http://127.0.0.1:${BASELINE_PORT}/api/schema/info; do sleep 0.02; done'; ` +
      "echo $(( ($(date +%s%N) - s) / 1000000 ))",
  );
  note("the app's own start: restart until it answers (no load) [s]", "baseline", Number(ms.trim().split("\n").pop()) / 1000, 2);
}

async function bothSystems(server: TestServer, round: number, scenario: Scenario, revision?: string): Promise<void> {
  // Alternate who goes first, so caches warmed by one (pip, npm) favour neither.
  const order: System[] = round % 2 === 0 ? ["program", "baseline"] : ["baseline", "program"];
  for (const system of order) await measure(server, system, scenario, revision);
}

async function main(): Promise<void> {
  const started = Date.now();
  declareRows();
  try {
    const { server, repo } = await startTestBed(NAME);
    log("first deploys (not measured)");
    workspace = new PulumiWorkspace("production");
    workspace.init(server, SERVER_REPO, "production");
    await programDeploy(server);
    await setUpBaseline(server);
    await setUpHeavy(server, BASELINE_DIR);
    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1} of ${ROUNDS}`);
      mutate(repo, "main", "code");
      await publishRepo(server, repo);
      await bothSystems(server, round, "code");
      await bothSystems(server, round, "noop");
      // The time until `pulumi up` returns as production runs it: the window is the server's, the wait the operator's.
      mutate(repo, "main", "code");
      await publishRepo(server, repo);
      workspace.run(["config", "rm", "--path", "app.stableSeconds"]);
      await measure(server, "program", "window");
      workspace.set("app.stableSeconds", String(TEST_STABLE_SECONDS));
      mutate(repo, "main", "frontend");
      await publishRepo(server, repo);
      await bothSystems(server, round, "frontend");
      const changed = mutate(repo, "main", "requirements");
      await publishRepo(server, repo);
      await bothSystems(server, round, "requirements");
      const previous = (await shOk(server, `git --git-dir=${SERVER_REPO} rev-parse ${changed}~1`)).trim();
      await bothSystems(server, round, "rollback", previous);
      log("back to the branch head (not measured)");
      await programDeploy(server);
      await baselineDeploy(server);
      log("heavy requirements");
      await heavyRound(server, repo, BASELINE_DIR);
      log("engine: a config error, the phases of a no-op run");
      await configErrorRound(server);
      await enginePhases(workspace);
      await engineFloorRound();
      await appStartRound(server);
    }
    printTable(
      `${ROUNDS} runs each, same server, repo, commits and load (inside the server: 20 quick GETs/s over keep-alive ` +
        "plus 3 slow 5-s requests always in flight). This program: `pulumi up --yes --skip-preview` of a production " +
        "stack (blue-green, providers builtin, file backend), timed as the user waits for it; a rollback pins app.revision. " +
        "Old way: bench/baseline-deploy.sh in a plain checkout with its own unit; its rollback checks out the previous commit and runs the same steps. " +
        '"Until the new release answers": from the command\'s start to the load generator\'s first answer from the new release. ' +
        "Heavy rows: requirements-heavy.txt (numpy, scipy, pandas), the python-build step alone against the old way's pip in its venv. " +
        "Engine phases: from the engine's own log (-v=9) of a no-op run.",
    );
    log(`done in ${((Date.now() - started) / 60000).toFixed(1)} min`);
  } finally {
    stopTestServer(NAME);
    workspace?.remove();
    removeEngineWorkspaces();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
