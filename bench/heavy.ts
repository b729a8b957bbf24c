/**
 * Heavy venvs (numpy, scipy, pandas: about 215 MB installed, real PyPI wheels) for the benchmark:
 * one small package added to requirements-heavy.txt, a new venv with uv beside the old one against
 * the old way's pip install in place; disk for venvs/, bytecode's share and worth, an empty cache.
 */
import { parseStackConfig } from "../config/load";
import { layoutParams, UV_CACHE } from "../components/host/host";
import { denyPortsOf } from "../components/environment";
import { identityRecordOf, recordOf, renderRecord } from "../components/inspect/stackIdentity";
import { inspectServer } from "../components/inspect/deployFacts";
import { venvParams } from "../components/release/pythonEnv";
import { remoteInvocation, renderScript } from "../components/steps/commands";
import { mutate, publishRepo, SERVER_REPO, sh, shOk, TestServer } from "../tools/testserver/client";
import { note } from "./table";

const HEAVY_FILE = "requirements-heavy.txt";
/** Install dirs of their own: the benchmark's stack never links, so never prunes, these venvs. */
const HEAVY_DIR = "/opt/ai4artsed-heavy";
const FRESH_DIR = "/opt/ai4artsed-heavy-fresh";
const FRESH_BASELINE_VENV = "/opt/ai4artsed-baseline-fresh-venv";
const IMPORTS = "import flask, numpy, scipy, scipy.stats, pandas";

/**
 * The heavy venvs are built by the steps `pulumi up` runs for them (the same scripts, rendered
 * with the same parameters), each install dir as a development stack of its own name: the
 * benchmark's pulumi stack is production, and the server records one install dir per stack.
 */
function heavyStack(server: TestServer, installDir: string) {
  const stack = `bench-${installDir.split("/").pop()}`;
  // A unit name and port of its own: the server refuses a stack that claims another's.
  const port = installDir === FRESH_DIR ? 17902 : 17901;
  const raw = {
    server: { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey },
    app: { repoUrl: SERVER_REPO, installDir, serviceName: stack, port, branch: "main", requirementsFile: HEAVY_FILE, deployStrategy: "restart" },
  };
  return { stack, ...parseStackConfig(stack, { environment: "development", ...raw }, new Set(["server"])) };
}

/** Seconds a command takes on the server, timed there (no SSH in it). */
async function timedOnServer(server: TestServer, command: string): Promise<number> {
  const ms = await shOk(server, `s=$(date +%s%N); ${command} >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 ))`);
  return Number(ms.split("\n").pop()) / 1000;
}

async function megabytes(server: TestServer, ...paths: string[]): Promise<number[]> {
  // One du over all paths counts each hardlinked file once, for the first path that has it.
  return (await shOk(server, `du -sm ${paths.join(" ")} | cut -f1`)).split("\n").map(Number);
}

async function bytecodeMegabytes(server: TestServer, venv: string): Promise<number> {
  return Number(await shOk(server, `find ${venv} -name __pycache__ -type d -prune -print0 | du -cm --files0-from=- | tail -n 1 | cut -f1`));
}

async function runStep(server: TestServer, step: string, script: Parameters<typeof renderScript>[0], params: Parameters<typeof renderScript>[1]): Promise<{ seconds: number; stdout: string }> {
  const started = Date.now();
  const result = await sh(server, remoteInvocation(renderScript(script, params), server.user));
  if (result.code !== 0) throw new Error(`${step} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return { seconds: (Date.now() - started) / 1000, stdout: result.stdout };
}

/**
 * The python-build step alone (after the program-time fetch, and host-layout on a new install
 * dir), as `pulumi up` runs it; its seconds and the venv it built.
 */
async function buildVenv(server: TestServer, installDir: string, withLayout = false): Promise<{ seconds: number; venv: string }> {
  const { stack, environment, config } = heavyStack(server, installDir);
  const { facts } = await inspectServer(stack, environment, config, denyPortsOf(config));
  const { app } = config;
  if (withLayout) {
    const identity = renderRecord(recordOf(environment, config));
    const layout = layoutParams({ installDir, serviceUser: app.serviceUser, writablePaths: app.writablePaths, identityRecord: identityRecordOf(stack), identity });
    await runStep(server, "host-layout", "host-layout", { ...layout, LAYOUT_ID: facts.layoutId });
  }
  const run = await runStep(server, "python-build", "venv", { ...venvParams(installDir, facts.requirementsBlob, 0), LAYOUT_ID: facts.layoutId });
  if (!/built/.test(run.stdout)) throw new Error(`the heavy venv was not built anew:\n${run.stdout}`);
  return { seconds: run.seconds, venv: `${installDir}/venvs/${facts.requirementsBlob}` };
}

let previousVenv = "";

/** Not measured: each way gets the heavy requirements once, as after any earlier deploy. */
export async function setUpHeavy(server: TestServer, baselineDir: string): Promise<void> {
  previousVenv = (await buildVenv(server, HEAVY_DIR, true)).venv;
  await shOk(server, `${baselineDir}/venv/bin/pip install -q --disable-pip-version-check -r ${baselineDir}/${HEAVY_FILE}`);
}

/** One round: the change, both ways; disk and bytecode; then a build from an empty cache, both ways. */
export async function heavyRound(server: TestServer, repo: string, baselineDir: string): Promise<void> {
  mutate(repo, "main", "heavy-requirements");
  await publishRepo(server, repo);
  const label = "heavy requirements + 1 small package: venv ready [s] (old: pip in place; this: new venv, cold)";
  const { seconds, venv } = await buildVenv(server, HEAVY_DIR);
  note(label, "program", seconds, 2);
  await shOk(server, `cd ${baselineDir} && git checkout -q main && git pull -q --ff-only`);
  note(label, "baseline", await timedOnServer(server, `${baselineDir}/venv/bin/pip install -q --disable-pip-version-check -r ${baselineDir}/${HEAVY_FILE}`), 2);

  // The floor of any new venv: a directory tree of hardlinks to one venv's files, nothing else.
  const floorDir = `${HEAVY_DIR}/venvs/.floor`;
  note("heavy: floor of a new venv: hardlink its files into a new tree (cp -al) [s]", "program", await timedOnServer(server, `rm -rf ${floorDir} && cp -al ${venv} ${floorDir}`), 2, "-");
  await shOk(server, `rm -rf ${floorDir}`);
  note("heavy: files in one venv", "program", Number(await shOk(server, `find ${venv} -type f | wc -l`)), 0, "-");

  const [one, added] = await megabytes(server, previousVenv, venv);
  const [all] = await megabytes(server, `${HEAVY_DIR}/venvs`);
  const [baselineVenv] = await megabytes(server, `${baselineDir}/venv`);
  note("heavy: du over venvs/ after the change [MB] (old: its one venv)", "baseline", baselineVenv, 0);
  note("heavy: du over venvs/ after the change [MB] (old: its one venv)", "program", all, 0);
  note("heavy: one venv [MB]", "program", one, 0, "(in place)");
  note("heavy: each more venv adds [% of one venv] (du counts hardlinks once)", "program", (added / one) * 100, 1, "0 (in place)");
  note("heavy: bytecode's share of one venv [%]", "baseline", ((await bytecodeMegabytes(server, `${baselineDir}/venv`)) / baselineVenv) * 100, 0);
  note("heavy: bytecode's share of one venv [%]", "program", ((await bytecodeMegabytes(server, previousVenv)) / one) * 100, 0);
  // Bytecode's worth: the unit sets PYTHONDONTWRITEBYTECODE=1, so without it every start compiles.
  const startWith = await timedOnServer(server, `PYTHONDONTWRITEBYTECODE=1 ${venv}/bin/python -c '${IMPORTS}'`);
  const startWithout = await timedOnServer(server, `d=$(mktemp -d -p /run); PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX=$d ${venv}/bin/python -c '${IMPORTS}'; rm -rf $d`);
  note("heavy: the app's imports at start, venv with bytecode [s]", "program", startWith, 2, "(pip writes it)");
  note("heavy: the app's imports at start, venv without bytecode [s]", "program", startWithout, 2, "-");
  previousVenv = venv;

  // A fresh server: no cache, no earlier venv. The kept cache comes back afterwards: a cache
  // filled anew holds other files (inodes) than the venvs linked from the old one.
  const emptyLabel = "heavy: build from an empty cache, fresh server [s] (old: new venv, pip --no-cache-dir)";
  const cache = UV_CACHE;
  await shOk(server, `rm -rf ${FRESH_DIR} ${cache}.kept && mv ${cache} ${cache}.kept`);
  note(emptyLabel, "program", (await buildVenv(server, FRESH_DIR, true)).seconds, 1);
  await shOk(server, `rm -rf ${FRESH_DIR} ${FRESH_BASELINE_VENV} ${cache} ${identityRecordOf(heavyStack(server, FRESH_DIR).stack)} && mv ${cache}.kept ${cache}`);
  note(
    emptyLabel,
    "baseline",
    await timedOnServer(
      server,
      `python3 -m venv ${FRESH_BASELINE_VENV} && TMPDIR=/var/tmp ${FRESH_BASELINE_VENV}/bin/pip install -q --disable-pip-version-check --no-cache-dir -r ${baselineDir}/${HEAVY_FILE}`,
    ),
    1,
  );
  await shOk(server, `rm -rf ${FRESH_BASELINE_VENV}`);
}
