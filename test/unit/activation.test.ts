/**
 * The restart strategy's activation as the program renders it, run without a server: systemctl,
 * curl and journalctl are stand-ins on PATH that log their calls, the install dir a temp dir.
 * A change to the gate or the rollback gets a test that runs in seconds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REMOTE_DIR } from "../../components/steps/commands";
import { stepResultOf } from "../../components/steps/remoteScript";
import { FACTS } from "./fixtures";
import { buildStack, remoteStep } from "./mocks";

const UNIT = "ai4artsed-development.service";
const OLD = "0000000000000000000000000000000000000000";

/**
 * An install dir with the serving release OLD and the new one complete, and stand-ins that answer
 * health only while `current` points at one of `healthy` (a release id).
 */
function sandbox(healthy: string[]): { dir: string; bin: string; calls: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-activate-"));
  const install = path.join(dir, "install");
  for (const release of [OLD, FACTS.commit]) {
    fs.mkdirSync(path.join(install, "releases", release), { recursive: true });
    fs.writeFileSync(path.join(install, "releases", release, ".complete"), "");
  }
  fs.symlinkSync(path.join(install, "releases", OLD), path.join(install, "current"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls.log");
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >>${calls}\n${body}\n`, { mode: 0o755 });
  stub(
    "systemctl",
    `case "$*" in
  *ActiveState,SubState*) printf 'active\\nrunning\\n' ;;
  *MainPID,NRestarts*) printf 'MainPID=100\\nNRestarts=0\\n' ;;
  *ExecMainCode*) echo 0 ;;
  *ExecMainStatus*) echo 0 ;;
  *Result*) echo success ;;
  is-active*|is-enabled*) exit 0 ;;
esac
exit 0`,
  );
  stub("curl", `case "$(basename "$(readlink ${install}/current)")" in ${healthy.join("|") || "none"}) exit 0 ;; *) exit 22 ;; esac`);
  stub("journalctl", "echo 'app: last log line'");
  stub("flock", "exit 0");
  return { dir, bin, calls };
}

async function activation(): Promise<string> {
  const graph = await buildStack("development", { app: { stableSeconds: 0, healthTimeoutSeconds: 5 } }, FACTS, "activation");
  return remoteStep(graph, "activation-service-activate").create;
}

/** Run the rendered activation with the install dir and lock in the sandbox. */
function run(script: string, box: { dir: string; bin: string }) {
  const local = script
    .replace(/^INSTALL_DIR=.*$/m, `INSTALL_DIR=${path.join(box.dir, "install")}`)
    .replace(/^RUN_DIR=.*$/m, `RUN_DIR=${box.dir}`)
    .replace(/\/run\/lock\/ai4artsed-deploy\.lock/g, path.join(box.dir, "deploy.lock"));
  // As inside the transient unit the server runs it in (lib/detached.sh): in the foreground.
  return spawnSync("bash", ["-c", local], { env: { PATH: `${box.bin}:/usr/bin:/bin`, AI4ARTSED_INSIDE_RUN: "1" }, encoding: "utf8", timeout: 30_000 });
}

test("activation, healthy release: current moves to it after one restart, it is recorded, and the result names the unit", async () => {
  const box = sandbox([FACTS.commit]);
  const result = run(await activation(), box);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(fs.readlinkSync(path.join(box.dir, "install", "current")), path.join(box.dir, "install", "releases", FACTS.commit));
  assert.deepEqual(stepResultOf(result.stdout), { servingUnit: UNIT });
  const calls = fs.readFileSync(box.calls, "utf8");
  assert.equal(calls.match(new RegExp(`^systemctl restart ${UNIT}$`, "gm"))?.length, 1, calls);
  assert.match(fs.readFileSync(path.join(box.dir, "install", "revisions.log"), "utf8"), new RegExp(`${FACTS.commit}\tok`));
});

test("activation, release that never answers: the gate fails, the previous release serves again, the step fails saying so", async () => {
  const box = sandbox([OLD]);
  const result = run(await activation(), box);
  assert.notEqual(result.status, 0);
  assert.equal(fs.readlinkSync(path.join(box.dir, "install", "current")), path.join(box.dir, "install", "releases", OLD));
  assert.match(result.stderr, new RegExp(`deploy of ${FACTS.commit} failed \\(.*did not answer 2xx within 5s\\); rolled back: ${OLD} is serving and healthy again`));
  assert.match(result.stderr, /app: last log line/, "the service's last log lines are shown");
  assert.equal(stepResultOf(result.stdout), undefined, "a failed step reports no result");
  const log = fs.readFileSync(path.join(box.dir, "install", "revisions.log"), "utf8");
  assert.match(log, new RegExp(`${FACTS.commit}\tfailed: `));
  assert.match(log, new RegExp(`${OLD}\trolled back after failed ${FACTS.commit}`));
});

test("pruning keeps each kept release's venv and frontend build, at any depth of app.frontendDir", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-prune-"));
  try {
    const install = path.join(dir, "install");
    const made = (p: string) => fs.mkdirSync(path.join(install, p), { recursive: true });
    made("venvs/v1");
    made("venvs/gone");
    for (const key of ["shallow", "deep", "gone"]) made(`frontends/${key}/dist`);
    made("releases/r1/frontend");
    made("releases/r2/public/app");
    fs.symlinkSync(path.join(install, "venvs/v1"), path.join(install, "releases/r1/venv"));
    fs.symlinkSync(path.join(install, "frontends/shallow/dist"), path.join(install, "releases/r1/frontend/dist"));
    fs.symlinkSync(path.join(install, "frontends/deep/dist"), path.join(install, "releases/r2/public/app/dist"));
    const lib = (file: string) => path.join(REMOTE_DIR, file);
    const run = spawnSync("bash", ["-c", `source ${lib("lib.sh")} && source ${lib("lib/releases.sh")} && prune_releases "$1/releases/r1" "$1/releases/r2"`, "prune", install], {
      env: { ...process.env, INSTALL_DIR: install, KEEP_RELEASES: "5" },
    });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(fs.readdirSync(path.join(install, "frontends")).sort(), ["deep", "shallow"]);
    assert.deepEqual(fs.readdirSync(path.join(install, "venvs")), ["v1"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
