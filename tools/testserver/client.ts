/**
 * The test server from TypeScript: boot, stop, link and reach the throwaway Debian servers of
 * testserver.sh, and publish the fixture app's repository to one. Used by the main job
 * (npm run up:local), the benchmark and the tests; it installs no mocks and imports no test code.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runOverSsh, SshResult, SshTarget } from "../../lib/ssh";

export const ROOT = path.join(__dirname, "..", "..");
const TESTSERVER = path.join(ROOT, "tools", "testserver", "testserver.sh");
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

/** Let one test server reach another on one TCP port (SSH); every other pair stays isolated. */
export function linkServers(from: TestServer, to: TestServer, port = 22): void {
  execFileSync("bash", [TESTSERVER, "link", "--name", from.name, "--to", to.name, "--port", String(port)], { stdio: ["ignore", "ignore", "inherit"] });
}

export function unlinkServers(from: TestServer, to: TestServer, port = 22): void {
  execFileSync("bash", [TESTSERVER, "unlink", "--name", from.name, "--to", to.name, "--port", String(port)], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Cut the server off from this machine without a FIN or a reset (packets dropped both ways), or mend it. */
export function cutNetwork(server: TestServer): void {
  execFileSync("bash", [TESTSERVER, "cut", "--name", server.name], { stdio: ["ignore", "ignore", "inherit"] });
}

export function mendNetwork(server: TestServer): void {
  execFileSync("bash", [TESTSERVER, "mend", "--name", server.name], { stdio: ["ignore", "ignore", "inherit"] });
}

export function sh(server: TestServer, command: string, stdin?: string, timeoutMs = 600_000): Promise<SshResult> {
  return runOverSsh(server, command, { stdin, timeoutMs });
}

/** Run a command on the server; its stdout, or an error with its output. */
export async function shOk(server: TestServer, command: string, stdin?: string): Promise<string> {
  const result = await sh(server, command, stdin);
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

/** Where the fixture's requirements find its own wheels (--find-links). */
export const SERVER_WHEELS = "/srv/fixture-wheels";

/** Put the fixture's wheels (make-wheels.py; fixture-pinned in these versions) in SERVER_WHEELS. */
export async function publishWheels(server: TestServer, pinnedVersions: readonly string[] = ["1.0"]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-wheels-"));
  try {
    execFileSync("python3", [path.join(FIXTURES, "make-wheels.py"), dir, ...pinnedVersions]);
    const tar = execFileSync("tar", ["-c", "-C", dir, "."]).toString("base64");
    // Readable by all, as a package directory on a server is: the build user reads it.
    await shOk(server, `mkdir -p ${SERVER_WHEELS} && base64 -d | tar -x -C ${SERVER_WHEELS} && chmod -R a+rX ${SERVER_WHEELS}`, tar);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Push every branch of the local repo to SERVER_REPO on the server, over the pinned SSH key, with the fixture's wheels. */
export async function publishRepo(server: TestServer, repo: string): Promise<void> {
  await publishWheels(server);
  await shOk(server, `test -d ${SERVER_REPO} || git init --quiet --bare ${SERVER_REPO}`);
  const sshCommand = `ssh -i ${server.keyFile} -o UserKnownHostsFile=${server.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -p ${server.port}`;
  execFileSync("git", ["-C", repo, "push", "--quiet", "--force", `${server.user}@${server.host}:${SERVER_REPO}`, "refs/heads/*:refs/heads/*"], {
    env: { ...process.env, GIT_SSH_COMMAND: sshCommand },
    stdio: ["ignore", "ignore", "inherit"],
  });
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

/** The watch window after the switch in tests that are not about it (production's default is 120 s). */
export const TEST_STABLE_SECONDS = 2;
