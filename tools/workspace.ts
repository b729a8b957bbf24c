/**
 * A throwaway Pulumi workspace for the real engine: a copy of the program, a file backend
 * and a passphrase in a temp dir, driven through the `pulumi` CLI exactly as users drive it.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT, TEST_STABLE_SECONDS, TestServer } from "./testserver/client";

/** What the program is made of; node_modules is linked, not copied. */
const PROGRAM_FILES = ["Pulumi.yaml", "program.js", "index.ts", "package.json", "tsconfig.json", "config", "components", "lib"];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export class PulumiWorkspace {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  /** `programDir`: where the program's files come from (this checkout by default); `files`: which. */
  constructor(
    readonly stack: string,
    programDir: string = ROOT,
    private readonly files: readonly string[] = PROGRAM_FILES,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-e2e-"));
    this.useProgram(programDir);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.dir, "node_modules"));
    fs.mkdirSync(path.join(this.dir, "state"));
    this.env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_HOME: path.join(this.dir, "pulumi-home"),
      NO_COLOR: "1",
    };
  }

  /**
   * Keep the state where Pulumi.yaml's backend.url says, as a team that shares its state commits
   * it (docs/runbook.md: State off the laptop), instead of this workspace's own file backend; `credentials`:
   * the backend's, as the operators export them.
   */
  useSharedBackend(url: string, credentials: Record<string, string>): void {
    const project = path.join(this.dir, "Pulumi.yaml");
    fs.writeFileSync(project, fs.readFileSync(project, "utf8").replace(/^(\s+url:).*$/m, `$1 ${JSON.stringify(url)}`));
    delete this.env.PULUMI_BACKEND_URL;
    Object.assign(this.env, credentials);
  }

  /** Put the program from `programDir` in place of the one here; state and config stay. */
  useProgram(programDir: string): void {
    for (const entry of this.files) {
      fs.rmSync(path.join(this.dir, entry), { recursive: true, force: true });
      fs.cpSync(path.join(programDir, entry), path.join(this.dir, entry), { recursive: true });
    }
  }

  /** What `pulumi preview` plans, step by step: [operation, resource name] (the engine's JSON). */
  plan(): Array<{ op: string; name: string }> {
    const result = this.ok(["preview", "--json"]);
    const steps = (JSON.parse(result.stdout).steps ?? []) as Array<{ op: string; urn: string }>;
    return steps.map((step) => ({ op: step.op, name: step.urn.split("::").pop()! }));
  }

  /** The CLI's arguments for `pulumi <args>` here: non-interactive, on this workspace's stack. */
  private argv(args: string[]): string[] {
    const interactiveCommands = ["up", "preview", "destroy", "refresh"];
    const flags = [...(interactiveCommands.includes(args[0]) ? ["--non-interactive"] : []), ...(args[0] === "stack" && args[1] === "init" ? [] : ["--stack", this.stack])];
    const end = args.includes("--") ? args.indexOf("--") : args.length;
    return [...args.slice(0, end), ...flags, ...args.slice(end)];
  }

  /**
   * Start `pulumi <args>` in the background, in a process group of its own: `kill()` ends the CLI
   * and everything it started at once (SIGKILL), as a laptop that is shut does (the engine starts
   * its plugins in process groups of their own: they are found by this workspace's PULUMI_HOME in
   * their environment); `done` resolves when it has ended.
   */
  start(args: string[]): { done: Promise<CliResult>; kill: () => void } {
    const started = process.hrtime.bigint();
    const child = spawn("pulumi", this.argv(args), { cwd: this.dir, env: this.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => stdout.push(d));
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    const done = new Promise<CliResult>((resolve) =>
      child.on("close", (code) =>
        resolve({ code: code ?? 255, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
      ),
    );
    const home = `PULUMI_HOME=${this.env.PULUMI_HOME}`;
    const kill = () => {
      process.kill(-child.pid!, "SIGKILL");
      for (const pid of fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
        try {
          if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(home)) process.kill(Number(pid), "SIGKILL");
        } catch {
          // Gone meanwhile, or not ours to read.
        }
      }
    };
    return { done, kill };
  }

  /** Run `pulumi <args>` in the workspace; never throws, the caller asserts. */
  run(args: string[], input?: string): CliResult {
    const started = process.hrtime.bigint();
    const result = spawnSync("pulumi", this.argv(args), {
      cwd: this.dir,
      env: this.env,
      input,
      maxBuffer: 64 * 1024 * 1024,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.error) throw result.error;
    return { code: result.status ?? 255, stdout: result.stdout.toString(), stderr: result.stderr.toString(), seconds };
  }

  /** Run and require success. */
  ok(args: string[], input?: string): CliResult {
    const result = this.run(args, input);
    if (result.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result;
  }

  /** `pulumi config set --path`; secrets go through stdin, never the command line. */
  set(key: string, value: string, secret = false): void {
    if (secret) this.ok(["config", "set", "--path", "--secret", key], value);
    else this.ok(["config", "set", "--path", key, "--", value]);
  }

  init(server: TestServer, repoUrl: string, environment: "production" | "development"): void {
    this.ok(["stack", "init", this.stack]);
    if (this.stack !== environment) this.ok(["config", "set", "environment", environment]);
    // The command and random plugins cannot be built here (docs/design.md, "Providers").
    this.ok(["config", "set", "providers", "builtin"]);
    this.set("server.address", server.host);
    this.set("server.port", String(server.port));
    this.set("server.user", server.user);
    this.set("server.hostKey", server.hostKey!);
    this.set("server.privateKey", server.privateKey, true);
    this.set("app.repoUrl", repoUrl);
    // A short watch window keeps the suite fast; the window's own tests set theirs.
    this.set("app.stableSeconds", String(TEST_STABLE_SECONDS));
  }

  outputs(): Record<string, string> {
    return JSON.parse(this.ok(["stack", "output", "--json", "--show-secrets"]).stdout);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
