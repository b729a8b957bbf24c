/**
 * The app repository's CI workflow (ci/github/ai4artsed.yml), run for real with act on the
 * self-hosted platform: the fixture app's repository holds the workflow, a copy of this
 * deployment repository (the stack's committed config, the state in an S3 bucket on a second
 * test server) is what the workflow checks out, and the secrets come from act's secret file as
 * they would from GitHub's. A pull request previews and deploys nothing, and its plan becomes a
 * comment on the PR (GitHub's API: a stand-in, test/e2e/stand-ins/githubApi.ts); a push to develop deploys
 * and runs the after-deploy check; a broken pull request fails its tests; a release that fails
 * its gate fails the job with the program's message; a push to main tests, then deploys
 * production. Tests run in order.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { headOf, mutate, publishRepo, ROOT, SERVER_REPO, shOk, startTestBed, startTestServer, stopTestServer, TestServer } from "../host/harness";
import { startStateStore, StateStore } from "../../tools/statestore/statestore";
import { ensured } from "../../tools/ensure";
import { PulumiWorkspace } from "../../tools/workspace";
import { GitHubApiStandIn, startGitHubApi } from "./stand-ins/githubApi";

const APP = `ai4v${process.pid % 10000}`;
const STORE = `ai4q${process.pid % 10000}`;
const WORKFLOW = ".github/workflows/ai4artsed.yml";
const PASSPHRASE = "e2e-test-passphrase";
const GITHUB_TOKEN = "ghs_e2e-stand-in-token";
let server: TestServer;
let storeServer: TestServer;
let store: StateStore;
let repo: string;
let operator: PulumiWorkspace;
let operatorProduction: PulumiWorkspace;
let work: string;
let tools: string;
let github: GitHubApiStandIn;

before(async () => {
  ({ server, repo } = await startTestBed(APP));
  storeServer = startTestServer(STORE);
  store = await startStateStore(storeServer);
  tools = ensured("tools/cicd/ensure-ci-tools.sh");
  github = await startGitHubApi(GITHUB_TOKEN);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-cicd-"));

  // The operator sets the stack up once, in the shared state, and commits its config.
  operator = new PulumiWorkspace("development");
  operator.useSharedBackend(store.url, store.credentials);
  operator.init(server, SERVER_REPO, "development");
  operatorProduction = new PulumiWorkspace("production");
  operatorProduction.useSharedBackend(store.url, store.credentials);
  operatorProduction.init(server, SERVER_REPO, "production");
  const deployRepo = path.join(work, "deploy");
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT }).toString().split("\0").filter(Boolean);
  for (const file of files.filter((f) => fs.existsSync(path.join(ROOT, f)))) {
    fs.mkdirSync(path.dirname(path.join(deployRepo, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(deployRepo, file));
  }
  for (const file of ["Pulumi.yaml", "Pulumi.development.yaml"]) fs.copyFileSync(path.join(operator.dir, file), path.join(deployRepo, file));
  fs.copyFileSync(path.join(operatorProduction.dir, "Pulumi.production.yaml"), path.join(deployRepo, "Pulumi.production.yaml"));
  git(deployRepo, "init", "-q", "-b", "main");
  git(deployRepo, "add", "-A");
  git(deployRepo, "commit", "-q", "-m", "the deployment, with both stacks' config");

  // The app's repository gets the workflow, on both branches.
  for (const branch of ["main", "develop"]) {
    git(repo, "checkout", "-q", branch);
    fs.mkdirSync(path.join(repo, path.dirname(WORKFLOW)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "ci", "github", "ai4artsed.yml"), path.join(repo, WORKFLOW));
    git(repo, "add", WORKFLOW);
    git(repo, "commit", "-q", "-m", "CI/CD: the deployment's workflow");
  }
  await publishRepo(server, repo);

  fs.writeFileSync(
    path.join(work, "secrets"),
    [
      `AI4ARTSED_DEPLOY_REPOSITORY=${deployRepo}`,
      `AI4ARTSED_STATE_ACCESS_KEY_ID=${store.credentials.AWS_ACCESS_KEY_ID}`,
      `AI4ARTSED_STATE_SECRET_ACCESS_KEY=${store.credentials.AWS_SECRET_ACCESS_KEY}`,
      `AI4ARTSED_PULUMI_PASSPHRASE=${PASSPHRASE}`,
      `GITHUB_TOKEN=${GITHUB_TOKEN}`,
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
});

after(async () => {
  await github?.close();
  if (server) stopTestServer(APP);
  if (storeServer) stopTestServer(STORE);
  operator?.remove();
  operatorProduction?.remove();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.email=ci@ai4artsed.test", "-c", "user.name=CI test", ...args], { cwd: dir }).toString().trim();
}

/** Run the workflow for an event in the app's repository as act does on a self-hosted runner (async: the GitHub stand-in answers meanwhile). */
async function act(event: "push" | "pull_request", payload: object): Promise<{ code: number; output: string; artifacts: string }> {
  const eventFile = path.join(work, `${event}.json`);
  fs.writeFileSync(eventFile, JSON.stringify(payload));
  const artifacts = path.join(work, "artifacts");
  const child = spawn(
    path.join(tools, "act"),
    [
      event,
      "-W", WORKFLOW,
      "-e", eventFile,
      "-P", "self-hosted=-self-hosted",
      "--secret-file", path.join(work, "secrets"),
      "--local-repository", `actions/upload-artifact@v4=${path.join(__dirname, "stand-ins", "upload-artifact")}`,
      "--env", `ARTIFACTS_DIR=${artifacts}`,
      "--env", `GITHUB_API_URL=${github.url}`,
    ],
    { cwd: repo, timeout: 1_200_000, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number>((resolve) => child.on("close", (status) => resolve(status ?? 255)));
  const lines = output.split("\n");
  console.log(`# act ${event}: exit ${code}, ${lines.length} lines; last ones:\n${lines.slice(-25).join("\n").replace(/^/gm, "#   ")}`);
  return { code, output, artifacts };
}

function noSecretIn(output: string): void {
  for (const secret of [PASSPHRASE, store.credentials.AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN]) assert.ok(!output.includes(secret), "a secret was echoed");
}

async function answers(): Promise<string> {
  return shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17802/api/schema/info || true");
}

test("1. a pull request to develop runs the app's tests and previews development, its plan a comment on the PR; nothing is deployed", async () => {
  const run = await act("pull_request", { action: "opened", number: 7, pull_request: { number: 7, head: { ref: "feature", sha: headOf(repo, "develop") }, base: { ref: "develop" } } });
  assert.equal(run.code, 0, run.output.slice(-4000));
  assert.match(run.output, /the frontend builds/);
  assert.match(run.output, /\d+ to create/, "the preview's plan");
  assert.match(run.output, /\[ci\] posted the plan of development on pull request #7/);
  const comments = github.comments.get(7) ?? [];
  assert.equal(comments.length, 1, github.requests.join("\n"));
  assert.match(comments[0].body, /^<!-- ai4artsed-preview:development -->\n### pulumi preview -s development\n```\n[\s\S]*\d+ to create/);
  noSecretIn(run.output);
  // preview fetches the app into its mirror on the server, but installs and starts nothing.
  await shOk(server, "test ! -e /etc/systemd/system/ai4artsed-development.service");
  assert.equal(await answers(), "000");
});

test("2. a push to develop deploys development, checks it in a browser, and keeps the screenshot", async () => {
  const run = await act("push", { ref: "refs/heads/develop" });
  assert.equal(run.code, 0, run.output.slice(-4000));
  assert.match(run.output, /\[smoke\] development: the page loaded in the browser with no console error and no failed request/);
  assert.ok(fs.existsSync(path.join(run.artifacts, "smoke-development", "smoke-development.png")), "the screenshot is the job's artifact");
  noSecretIn(run.output);
  assert.equal(await answers(), "200");
  assert.equal(operator.outputs().revision, headOf(repo, "develop"));
});

test("3. a pull request whose Python does not compile fails the app's tests and is not previewed", async () => {
  git(repo, "checkout", "-q", "-b", "feature", "develop");
  git(repo, "checkout", "-q", "develop");
  mutate(repo, "feature", "break-syntax");
  git(repo, "checkout", "-q", "feature");
  try {
    const run = await act("pull_request", { action: "opened", number: 8, pull_request: { number: 8, head: { ref: "feature", sha: headOf(repo, "feature") }, base: { ref: "develop" } } });
    assert.notEqual(run.code, 0);
    assert.match(run.output, /SyntaxError|Error compiling/);
    assert.doesNotMatch(run.output, /pulumi preview of the stack/, "no preview after failed tests");
    assert.equal(github.comments.get(8), undefined, "no comment without a preview");
  } finally {
    git(repo, "checkout", "-q", "develop");
  }
});

test("4. a push whose release fails its health gate fails the job with the program's message; development keeps serving", async () => {
  const serving = operator.outputs().revision;
  mutate(repo, "develop", "break-startup");
  await publishRepo(server, repo);
  const run = await act("push", { ref: "refs/heads/develop" });
  assert.notEqual(run.code, 0);
  const annotations = run.output.match(/::error title=pulumi up -s development failed::[^\n]*/g) ?? [];
  console.log(`# the job's errors:\n${annotations.map((a) => `#   ${a.slice(0, 300)}`).join("\n")}`);
  assert.ok(
    annotations.some((a) => /deploy of [0-9a-f]+ failed \(the service exited during startup\)/.test(a)),
    "the program's message is the job's error",
  );
  assert.match(run.output, /the deploy of stack development failed/);
  assert.equal(await answers(), "200");
  assert.equal(operator.outputs().revision, serving);
});

test("5. a push to main runs the app's tests, then deploys production and checks it", async () => {
  git(repo, "checkout", "-q", "main");
  try {
    const run = await act("push", { ref: "refs/heads/main" });
    assert.equal(run.code, 0, run.output.slice(-4000));
    const tested = run.output.indexOf("the frontend builds");
    const deployed = run.output.indexOf("Updating (production)");
    assert.ok(tested >= 0 && deployed > tested, "the tests ran, then the deploy");
    assert.match(run.output, /\[smoke\] production: the page loaded in the browser with no console error and no failed request/);
    noSecretIn(run.output);
    assert.equal(await shOk(server, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:17801/api/schema/info || true"), "200");
    assert.equal(operatorProduction.outputs().revision, headOf(repo, "main"), "the pushed commit");
  } finally {
    git(repo, "checkout", "-q", "develop");
  }
});
