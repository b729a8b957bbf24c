/**
 * Real-server harness: boots the project's Debian test server (systemd-nspawn, own network
 * namespace), publishes the fixture repo to it, and runs the program's own remote steps there:
 * the exact command lines and stdin the components register, read from the mocked graph.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackConfig } from "../../config/load";
import { DeployFacts, inspectServer } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { SshResult } from "../../lib/ssh";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";
import { buildStack, Recorded } from "../unit/mocks";

export {
  cutNetwork,
  headOf,
  linkServers,
  makeFixtureRepo,
  mendNetwork,
  mutate,
  publishRepo,
  publishWheels,
  ROOT,
  SERVER_REPO,
  sh,
  shOk,
  sshLoginsDuring,
  startTestBed,
  startTestServer,
  stopTestServer,
  TEST_STABLE_SECONDS,
  unlinkServers,
} from "../../tools/testserver/client";
export type { TestBed, TestServer } from "../../tools/testserver/client";
import { ROOT, SERVER_REPO, sh, shOk, TEST_STABLE_SECONDS, TestServer } from "../../tools/testserver/client";

/** Components' steps in the order the engine runs them (each waits for the ones before). */
export const DEPLOY_ORDER = [
  "host-adopt",
  "host-packages",
  "host-layout",
  "host-sshd",
  "python-build",
  "frontend-build",
  "release-export",
  "release-adopt",
  // The fixture's extra service (app.services.gpu-service), when a test runs it.
  "gpu-service-environment",
  "gpu-service-unit",
  "gpu-service-activate",
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
  "gpu-service-monitor-probe",
  "gpu-service-monitor-webhook",
  "gpu-service-monitor-service",
  "gpu-service-monitor-timer",
  "offsite-backup-script",
  "offsite-backup-password",
  "offsite-backup-ssh-key",
  "offsite-backup-known-hosts",
  "offsite-backup-credentials",
  "offsite-backup-service",
  "offsite-backup-timer",
  "monitoring-prometheus-config",
  "monitoring-rules",
  "monitoring-alertmanager-config",
  "monitoring-blackbox-config",
  "monitoring-overview",
  "monitoring-prometheus-dropin",
  "monitoring-prometheus-node-exporter-dropin",
  "monitoring-prometheus-blackbox-exporter-dropin",
  "monitoring-prometheus-alertmanager-dropin",
  "monitoring-relay-script",
  "monitoring-relay-service",
  "monitoring-metrics-script",
  "monitoring-metrics-service",
  "monitoring-webhook",
  "monitoring-apply",
  "monitoring-metrics-timer",
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


/** The graph's steps that run something on create, by name below the stack's prefix. */
export function stepsWithCreate(graph: Map<string, Recorded>, name: string): string[] {
  return [...graph.values()].filter((r) => r.inputs.create).map((r) => r.name.slice(name.length + 1));
}

/**
 * Resolve on the server as `pulumi up` does, render the stack's graph through the components,
 * then run each step's create command (with its stdin) on the server in engine order.
 */
export async function deploy(
  server: TestServer,
  stack: "production" | "development",
  overrides: { app?: object; host?: object; monitor?: object; cloudflare?: object; backup?: object } = {},
  steps: readonly string[] = DEPLOY_ORDER,
): Promise<Deployment> {
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  // A short watch window keeps the suite fast; the window's own tests set theirs.
  const app = { repoUrl: SERVER_REPO, stableSeconds: TEST_STABLE_SECONDS, ...overrides.app };
  const merged = { server: serverConfig, app, host: overrides.host, monitor: overrides.monitor, cloudflare: overrides.cloudflare, backup: overrides.backup };
  const { environment, config } = parseStackConfig(stack, rawConfig(merged), SECRET_SECTIONS);
  // As `pulumi up` does: the stack's deploy lock is held until the deploy is done.
  const { facts, releaseDeployLock } = await inspectServer(stack, environment, config, denyPortsOf(config), { deployLockHolder: `host-test@${os.hostname()}` });
  try {
    return await runSteps(server, stack, merged, facts, steps);
  } finally {
    releaseDeployLock();
  }
}

async function runSteps(server: TestServer, stack: "production" | "development", merged: Parameters<typeof buildStack>[1], facts: DeployFacts, steps: readonly string[]): Promise<Deployment> {
  const name = `${stack}`;
  const graph = await buildStack(stack, merged, facts, name);
  if (steps === DEPLOY_ORDER) {
    const unknown = stepsWithCreate(graph, name).filter((step) => !(DEPLOY_ORDER as readonly string[]).includes(step));
    if (unknown.length > 0) throw new Error(`the graph has steps the harness does not run: ${unknown.join(", ")}; add them to DEPLOY_ORDER in engine order`);
  }
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

/** A deploy that must fail: the step that failed, with its output; fails the test, saying `what`, if it succeeds. */
export function failedDeploy(server: TestServer, stack: "production" | "development", overrides: Parameters<typeof deploy>[2], what: string): Promise<StepFailed> {
  return deploy(server, stack, overrides).then(
    () => assert.fail(`the deploy of ${what} succeeded`),
    (err: unknown) => {
      if (err instanceof StepFailed) return err;
      throw err;
    },
  );
}

/** Run the stack's delete commands in reverse engine order, as `pulumi destroy` does. */
export async function destroy(server: TestServer, deployment: Deployment): Promise<void> {
  const deletes = [...deployment.graph.values()].filter((r) => r.inputs.delete).reverse();
  const order = (r: Recorded) => {
    const step = r.name.slice(deployment.name.length + 1);
    return ["offsite-backup-remove", "monitor-remove", "service-remove", "firewall-rules", "journald-dropin", "host-layout"].indexOf(step);
  };
  for (const resource of deletes.sort((a, b) => order(a) - order(b))) {
    const result = await sh(server, resource.inputs.delete);
    if (result.code !== 0) throw new StepFailed(`${resource.name} (delete)`, result);
  }
}

/**
 * A stand-in pulumi for scripts/backup.sh (the host tests deploy without the engine): it answers
 * `pulumi config --json --show-secrets --stack STACK` with `config` (each section stored as a
 * secret where a real stack keeps it so) and `pulumi stack output --json --show-secrets --stack
 * STACK` with `outputs`, as the real CLI prints them. Returns the directory to put first on PATH.
 */
export function fakePulumi(stack: string, config: Record<string, unknown>, outputs: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-fake-pulumi-"));
  const entries = Object.fromEntries(
    Object.entries(config).map(([section, value]) => [
      `ai4artsed:${section}`,
      typeof value === "object" ? { value: JSON.stringify(value), objectValue: value, secret: SECRET_SECTIONS.has(section) } : { value: String(value), secret: false },
    ]),
  );
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(entries));
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(outputs));
  fs.writeFileSync(
    path.join(dir, "pulumi"),
    `#!/bin/bash
# Test stand-in: pulumi config --json --show-secrets --stack ${stack} | pulumi stack output --json --show-secrets --stack ${stack}
case "$*" in
  "config --json --show-secrets --stack ${stack}") cat "${dir}/config.json" ;;
  "stack output --json --show-secrets --stack ${stack}") cat "${dir}/outputs.json" ;;
  *) echo "error: the stand-in knows no 'pulumi $*'" >&2; exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  return dir;
}

/** Run scripts/backup.sh with a stand-in pulumi directory first on PATH; its stdout. */
export function backupScript(fake: string, ...args: string[]): string {
  return execFileSync("bash", [path.join(ROOT, "scripts", "backup.sh"), ...args], {
    env: { ...process.env, PATH: `${fake}:${process.env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 * 1024 * 1024,
  }).toString();
}

/** scripts/backup.sh as backupScript runs it, for a test that reads its stderr too. */
export function backupScriptRun(fake: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("bash", [path.join(ROOT, "scripts", "backup.sh"), ...args], {
    env: { ...process.env, PATH: `${fake}:${process.env.PATH}` },
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
}

const HOOK_PORT = 18999;
export const HOOK_LOG = "/var/log/ai4artsed-test-hooks.log";
const RECEIVER = `import http.server

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open("${HOOK_LOG}", "ab") as log:
            log.write(body + b"\\n")
        self.send_response(204)
        self.end_headers()

http.server.HTTPServer(("127.0.0.1", ${HOOK_PORT}), Hook).serve_forever()
`;

/** A local webhook receiver on the server that records every POST; returns its URL (with a token in the path). */
export async function startHookReceiver(server: TestServer, token: string): Promise<string> {
  // A unit name of its own each time: under load systemd may keep a stopped transient unit
  // loaded for a while, and a second systemd-run of the same name is refused.
  await shOk(
    server,
    `cat >/usr/local/lib/hook-receiver.py <<'EOF'\n${RECEIVER}EOF\nsystemctl stop 'hook-receiver*' 2>/dev/null || true\n` +
      `systemd-run --quiet --unit=hook-receiver-$(date +%s%N) python3 /usr/local/lib/hook-receiver.py\n` +
      `for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:${HOOK_PORT}/ && exit 0; sleep 0.1; done; exit 1`,
  );
  return `http://127.0.0.1:${HOOK_PORT}/hooks/${token}`;
}

export async function stopHookReceiver(server: TestServer): Promise<void> {
  await shOk(server, `systemctl stop 'hook-receiver*'; rm -f ${HOOK_LOG}`);
}

/** The webhook POSTs the receiver got, in order. */
export async function hooks(server: TestServer): Promise<Array<Record<string, string>>> {
  const out = await shOk(server, `cat ${HOOK_LOG} 2>/dev/null || true`);
  // Alertmanager's bodies end in a newline of their own.
  return out
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

/** Alert journal entries that mention `about`, as "PRIORITY MESSAGE" lines. */
export async function alerts(server: TestServer, about: string): Promise<string[]> {
  await shOk(server, "journalctl --sync");
  const out = await shOk(server, `journalctl -t ai4artsed-health-alert -o json --no-pager | python3 -c 'import json,sys; [print(e["PRIORITY"], e["MESSAGE"]) for e in map(json.loads, sys.stdin)]'`);
  return out.split("\n").filter((l) => l.includes(about));
}

/** Poll until done(read()) holds; fails with the last value after `seconds`. */
export async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, seconds = 30): Promise<T> {
  for (let i = 0; i < seconds * 2; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await read())}`);
}

/**
 * Prometheus' scrape targets on the server as "job" or "job:environment", sorted, once there are
 * `count` of them and every one is up.
 */
export async function scrapeTargets(server: TestServer, count: number): Promise<string[]> {
  const targets = await waitFor(
    `${count} targets, every one up`,
    async () => JSON.parse(await shOk(server, "curl -sf http://127.0.0.1:9090/api/v1/targets")).data.activeTargets as Array<{ labels: Record<string, string>; health: string }>,
    (found) => found.length === count && found.every((target) => target.health === "up"),
    60,
  );
  return targets.map(({ labels }) => `${labels.job}${labels.environment ? `:${labels.environment}` : ""}`).sort();
}

/** The runbook's backup-server block (docs/runbook.md), as it stands there. */
function backupServerSetup(): string {
  const readme = fs.readFileSync(path.join(ROOT, "docs", "runbook.md"), "utf8");
  const block = readme.split("<!-- backup-server-setup")[1]?.match(/```bash\n([\s\S]*?)```/);
  if (!block) throw new Error("docs/runbook.md lacks the backup server's setup block");
  return block[1];
}

/** A backup account's key pair, made here as an operator would. */
export interface BackupKey {
  readonly dir: string;
  readonly privateKey: string;
}

/**
 * Set a test server up as the runbook's backup server, for a fresh key pair; the stacks'
 * repositories are then sftp:ai4artsed-backup@<address>:/production and /development.
 */
export async function setUpBackupServer(target: TestServer): Promise<BackupKey> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-backup-key-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ai4artsed-test-backup", "-f", path.join(dir, "ai4artsed_backup")]);
  await shOk(target, `cat >/root/ai4artsed_backup.pub <<'EOF'\n${fs.readFileSync(path.join(dir, "ai4artsed_backup.pub"), "utf8")}EOF`);
  const setup = await sh(target, "cd /root && bash -euo pipefail -s", backupServerSetup());
  if (setup.code !== 0) throw new Error(`the runbook's backup server setup failed:\n${setup.stderr}`);
  return { dir, privateKey: fs.readFileSync(path.join(dir, "ai4artsed_backup"), "utf8") };
}

/** The pupils' data set's own paths below shared/, as the fingerprints compare them. */
export const DATA_SET = "exports devserver/settings_password.key devserver/api_keys.json";

/**
 * A data set below shared/ as a workshop leaves it: names with spaces and non-ASCII characters,
 * a large recording (60 MB unless told), nested folders, 0600 key files and a symlink, owned by the service user.
 */
export async function writeDataSet(server: TestServer, shared: string, owner: string, recordingBytes = 60_000_000): Promise<void> {
  await shOk(
    server,
    `set -e
cd ${shared}
mkdir -p "exports/Klasse 7a/Gruppe Ü/Bilder" "exports/Projekt Ästhetik/ein ganz tiefer/Ordner" devserver
head -c ${recordingBytes} /dev/urandom >"exports/Klasse 7a/Aufnahme groß.bin"
for i in $(seq 1 30); do head -c $((2000 + i * 100)) /dev/urandom | base64 >"exports/Klasse 7a/Gruppe Ü/Aufsatz $i – Entwurf.txt"; done
head -c 300000 /dev/urandom >"exports/Klasse 7a/Gruppe Ü/Bilder/Bild café №1.png"
printf 'tief\\n' >"exports/Projekt Ästhetik/ein ganz tiefer/Ordner/notiz.md"
printf 'settings-password-of-the-lab\\n' >devserver/settings_password.key
printf '{"OPENROUTER_API_KEY": "sk-or-pupils"}\\n' >devserver/api_keys.json
chmod 600 devserver/settings_password.key devserver/api_keys.json
chmod 640 "exports/Projekt Ästhetik/ein ganz tiefer/Ordner/notiz.md"
ln -sfn "Klasse 7a" "exports/aktuelle Klasse"
chown -R -h ${owner}:${owner} exports devserver
touch -h -d '2025-11-03 09:15:00' "exports/aktuelle Klasse" "exports/Klasse 7a/Aufnahme groß.bin"`,
  );
}

/**
 * Path, type, mode, owner and group names, size, link target, mtime (of files and links; a
 * restore renames directories into place) and sha256 of every entry of `paths` below root.
 */
export function dataFingerprint(server: TestServer, root: string, paths = DATA_SET): Promise<string> {
  return shOk(
    server,
    `cd ${root} && { find ${paths} -printf '%p\\t%y\\t%m\\t%u\\t%g\\t%s\\t%l\\t' \\( -type d -printf '\\n' -o -printf '%T@\\n' \\); find ${paths} -type f -print0 | xargs -0 sha256sum; } | LC_ALL=C sort`,
  );
}
