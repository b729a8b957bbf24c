/**
 * Real-server harness: boots the project's Debian test server (systemd-nspawn, own network
 * namespace), publishes the fixture repo to it, and runs the program's own remote steps there:
 * the exact command lines and stdin the components register, read from the mocked graph.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackConfig } from "../../config/load";
import { DeployFacts, inspectServer } from "../../components/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { runOverSsh, SshResult, SshTarget } from "../../lib/ssh";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import { buildStack, Recorded } from "../unit/mocks";

export const ROOT = path.join(__dirname, "..", "..");
const TESTSERVER = path.join(ROOT, "test", "host", "server", "testserver.sh");
const FIXTURES = path.join(ROOT, "test", "fixtures");
/** Where the fixture repository lives on the test server, as the app's git URL. */
export const SERVER_REPO = "/srv/fixture.git";

export interface TestServer extends SshTarget {
  readonly name: string;
  readonly keyFile: string;
  readonly knownHosts: string;
}

/** Boot a test server; fails loudly when the machine cannot (no root, no nspawn). */
export function startTestServer(name: string): TestServer {
  const out = execFileSync("bash", [TESTSERVER, "up", "--name", name], { stdio: ["ignore", "pipe", "inherit"] }).toString();
  const envFile = out.trim().split("\n").pop()!;
  const fields = ["TESTSERVER_ADDRESS", "TESTSERVER_SSH_PORT", "TESTSERVER_USER", "TESTSERVER_KEY_FILE", "TESTSERVER_HOST_KEY", "TESTSERVER_KNOWN_HOSTS"];
  const values = execFileSync("bash", ["-c", `source "$1"; printf '%s\\0' ${fields.map((f) => `"$${f}"`).join(" ")}`, "_", envFile])
    .toString()
    .split("\0");
  const [address, port, user, keyFile, hostKey, knownHosts] = values;
  return { name, host: address, port: Number(port), user, keyFile, privateKey: fs.readFileSync(keyFile, "utf8"), hostKey, knownHosts };
}

export function stopTestServer(name: string): void {
  execFileSync("bash", [TESTSERVER, "down", "--name", name], { stdio: ["ignore", "inherit", "inherit"] });
}

export function sh(server: TestServer, command: string, stdin?: string, timeoutMs = 600_000): Promise<SshResult> {
  return runOverSsh(server, command, { stdin, timeoutMs });
}

/** Run a command on the server; its stdout, or an error with its output. */
export async function shOk(server: TestServer, command: string): Promise<string> {
  const result = await sh(server, command);
  if (result.code !== 0) throw new Error(`'${command}' failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

/** A local fixture repository with main and develop. */
export function makeFixtureRepo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-fixture-"));
  const repo = path.join(dir, "repo");
  execFileSync("bash", [path.join(FIXTURES, "make-repo.sh"), repo]);
  return repo;
}

/** Commit one change of a kind (code, requirements, break-startup, ...) and return its id. */
export function mutate(repo: string, branch: string, kind: string): string {
  return execFileSync("bash", [path.join(FIXTURES, "mutate.sh"), repo, branch, kind]).toString().trim();
}

export function headOf(repo: string, branch: string): string {
  return execFileSync("git", ["-C", repo, "rev-parse", branch]).toString().trim();
}

/** A booted test server with a fresh fixture repository published to it. */
export interface TestBed {
  readonly server: TestServer;
  readonly repo: string;
}

/** Boot a test server and publish a fresh fixture repository to it (a test file's `before`). */
export async function startTestBed(name: string): Promise<TestBed> {
  const server = startTestServer(name);
  const repo = makeFixtureRepo();
  await publishRepo(server, repo);
  return { server, repo };
}

/**
 * Run work and count the SSH logins the server accepted meanwhile (each remote command of a
 * `pulumi up` is one); the count's own login, logged before it counts, is left out.
 */
export async function sshLoginsDuring<T>(server: TestServer, work: () => T): Promise<{ result: T; logins: number }> {
  const count = async () => Number(await shOk(server, "journalctl -u ssh --no-pager -o cat | grep -c '^Accepted publickey' || true"));
  const before = await count();
  const result = work();
  return { result, logins: (await count()) - before - 1 };
}

/** Push every branch of the local repo to SERVER_REPO on the server, over the pinned SSH key. */
export async function publishRepo(server: TestServer, repo: string): Promise<void> {
  await shOk(server, `test -d ${SERVER_REPO} || git init --quiet --bare ${SERVER_REPO}`);
  const sshCommand = `ssh -i ${server.keyFile} -o UserKnownHostsFile=${server.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -p ${server.port}`;
  execFileSync("git", ["-C", repo, "push", "--quiet", "--force", `${server.user}@${server.host}:${SERVER_REPO}`, "refs/heads/*:refs/heads/*"], {
    env: { ...process.env, GIT_SSH_COMMAND: sshCommand },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** The watch window after the switch in tests that are not about it (production's default is 120 s). */
export const TEST_STABLE_SECONDS = 2;

/** Components' steps in the order the engine runs them (each waits for the ones before). */
export const DEPLOY_ORDER = [
  "host-adopt",
  "host-packages",
  "host-layout",
  "python-build",
  "frontend-build",
  "release-export",
  "release-adopt",
  "service-environment",
  "service-unit",
  "service-bridge-socket",
  "service-bridge-service",
  "service-egress-service",
  "service-proxy-unit",
  "service-proxy-config",
  "service-backup-snapshot",
  "service-activate",
  "firewall-rules",
  "journald-dropin",
  "monitor-probe",
  "monitor-webhook",
  "monitor-service",
  "monitor-timer",
] as const;
export type Step = (typeof DEPLOY_ORDER)[number];

export interface StepRun {
  readonly step: string;
  readonly result: SshResult;
  /** Wall time of the step's command, SSH included. */
  readonly seconds: number;
}

export class StepFailed extends Error {
  constructor(
    public readonly step: string,
    public readonly result: SshResult,
  ) {
    super(`step ${step} failed (exit ${result.code}):\n${result.stderr}`);
  }
}

export interface Deployment {
  readonly facts: DeployFacts;
  readonly graph: Map<string, Recorded>;
  readonly name: string;
  readonly runs: StepRun[];
}


/**
 * Resolve on the server as `pulumi up` does, render the stack's graph through the components,
 * then run each step's create command (with its stdin) on the server in engine order.
 */
export async function deploy(
  server: TestServer,
  stack: "production" | "development",
  overrides: { app?: object; host?: object; monitor?: object; cloudflare?: object } = {},
  steps: readonly string[] = DEPLOY_ORDER,
): Promise<Deployment> {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  // A short watch window keeps the suite fast; the window's own tests set theirs.
  const app = { repoUrl: SERVER_REPO, stableSeconds: TEST_STABLE_SECONDS, ...overrides.app };
  const merged = { server: serverConfig, app, host: overrides.host, monitor: overrides.monitor, cloudflare: overrides.cloudflare };
  const { environment, config } = parseStackConfig(stack, rawConfig(merged), SECRET_SECTIONS);
  const { facts } = await inspectServer(stack, environment, config, denyPortsOf(config));
  const name = `${stack}`;
  const graph = await buildStack(stack, merged, facts, name);
  const runs: StepRun[] = [];
  for (const step of steps) {
    const resource = graph.get(`${name}-${step}`);
    if (!resource?.inputs.create) continue;
    const started = Date.now();
    const result = await sh(server, resource.inputs.create, resource.inputs.stdin);
    runs.push({ step, result, seconds: (Date.now() - started) / 1000 });
    if (result.code !== 0) throw new StepFailed(step, result);
  }
  return { facts, graph, name, runs };
}

/** Run the stack's delete commands in reverse engine order, as `pulumi destroy` does. */
export async function destroy(server: TestServer, deployment: Deployment): Promise<void> {
  const deletes = [...deployment.graph.values()].filter((r) => r.inputs.delete).reverse();
  const order = (r: Recorded) => {
    const step = r.name.slice(deployment.name.length + 1);
    return ["monitor-remove", "service-remove", "firewall-rules", "journald-dropin", "host-layout"].indexOf(step);
  };
  for (const resource of deletes.sort((a, b) => order(a) - order(b))) {
    const result = await sh(server, resource.inputs.delete);
    if (result.code !== 0) throw new StepFailed(`${resource.name} (delete)`, result);
  }
}
