/**
 * Golden comparison (mocked runtime, no server): everything the program sends to a server,
 * for both stacks and both deploy strategies, byte for byte against test/golden/.
 *
 * A restructuring must leave these files as they are; a change on purpose rewrites them with
 *   GOLDEN_UPDATE=1 node --import tsx --test test/unit/golden.test.ts
 * and the diff of test/golden/ in that commit shows exactly what a server now receives.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { buildStack, Recorded, scriptOf } from "./mocks";
import { FACTS, FACTS_STDOUT, fakeSession, rawConfig, SECRET_SECTIONS, TEST_CLOUDFLARE, TEST_HOST_KEY, TEST_PRIVATE_KEY } from "./fixtures";
import { parseStackConfig } from "../../config/load";
import { denyPortsOf } from "../../components/environment";
import { inspectServer } from "../../components/inspect/deployFacts";

const GOLDEN_DIR = path.join(__dirname, "..", "golden");
const UPDATE = process.env.GOLDEN_UPDATE === "1";

/** Inputs of a remote command that are the scripts it runs (bash -c '<script>'). */
const SCRIPT_INPUTS = new Set(["create", "update", "delete"]);
/** The dynamic providers' own serialized code: kept in the state for the engine, never sent to a server. */
const ENGINE_ONLY_INPUTS = new Set(["__provider"]);

const OFFSITE = { repository: "sftp:ai4artsed-backup@10.0.0.9:/production", password: "mock-restic-password", sshKey: TEST_PRIVATE_KEY, hostKey: TEST_HOST_KEY };

/** The stacks compared: each stack with each strategy, production with everything it can switch on. */
const CASES: Array<{ file: string; stack: "production" | "development"; overrides: Parameters<typeof buildStack>[1] }> = [
  {
    file: "production-blue-green",
    stack: "production",
    overrides: {
      cloudflare: TEST_CLOUDFLARE,
      backup: { offsite: OFFSITE },
      monitor: { webhookUrl: "https://hooks.example.org/ai4artsed" },
      app: { services: { "gpu-service": { directory: "gpu_service", port: 17803, portVariable: "GPU_SERVICE_PORT", environment: { DIFFUSERS_DEVICE: "cpu" } } } },
    },
  },
  { file: "production-restart", stack: "production", overrides: { app: { deployStrategy: "restart" } } },
  { file: "development-restart", stack: "development", overrides: {} },
  { file: "development-blue-green", stack: "development", overrides: { app: { deployStrategy: "blue-green" } } },
];

/**
 * One text per graph: every resource by name with its type and inputs. Scripts are unquoted and
 * kept once each in scripts/<sha>.golden (they share the sourced libraries), so a diff shows the lines.
 */
function render(graph: Map<string, Recorded>, prefix: string, scripts: Map<string, string>): string {
  const out: string[] = [];
  for (const [name, resource] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`=== ${name.slice(prefix.length) || "(environment)"} ${resource.type}`);
    for (const [key, value] of Object.entries(resource.inputs).sort(([a], [b]) => a.localeCompare(b))) {
      if (ENGINE_ONLY_INPUTS.has(key)) continue;
      if (SCRIPT_INPUTS.has(key) && typeof value === "string" && value.startsWith("bash -c ")) {
        out.push(`${key}: script ${remember(scriptOf(value)!, scripts)}`);
      } else {
        out.push(`${key}: ${JSON.stringify(value, null, 1).replace(/\n\s*/g, " ")}`);
      }
    }
  }
  return out.join("\n") + "\n";
}

/** The scripts of `pulumi up`'s program-time SSH session (deploy lock, stacks' records, resolve, observe), as the server runs them. */
async function programTimeScripts(stack: "production" | "development", overrides: Parameters<typeof buildStack>[1]): Promise<string[]> {
  const { environment, config } = parseStackConfig(stack, rawConfig(overrides), SECRET_SECTIONS);
  const { open, commands } = fakeSession((command) => (command.includes("# ai4artsed deploy-lock\n") ? { code: 0, stdout: "@@ held\n", stderr: "" } : { code: 0, stdout: FACTS_STDOUT, stderr: "" }));
  await inspectServer(stack, environment, config, denyPortsOf(config), { open, deployLockHolder: "operator@laptop" });
  // Each command is `bash -c '<script>' && ...`: bash itself unquotes each script.
  const printed = commands.map((command) => execFileSync("bash", ["-c", `bash() { printf '%s\\0' "$2"; }; ${command}`]).toString());
  return printed.join("").split("\0").filter(Boolean);
}

function remember(script: string, scripts: Map<string, string>): string {
  const sha = crypto.createHash("sha256").update(script).digest("hex").slice(0, 16);
  scripts.set(sha, script);
  return sha;
}

function compare(file: string, actual: string): void {
  const target = path.join(GOLDEN_DIR, file);
  if (UPDATE) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, actual);
    return;
  }
  assert.ok(fs.existsSync(target), `no golden file ${target}; write it with GOLDEN_UPDATE=1`);
  const expected = fs.readFileSync(target, "utf8");
  if (actual !== expected) {
    const a = actual.split("\n");
    const e = expected.split("\n");
    const line = a.findIndex((text, i) => text !== e[i]);
    assert.fail(`${file} differs from the golden copy at line ${line + 1}:\n  golden: ${e[line]}\n  now:    ${a[line]}\nA change on purpose: GOLDEN_UPDATE=1 (see this file's header).`);
  }
}

test("what the program sends to a server is byte-identical to the golden copy, both stacks, both strategies", async () => {
  const scripts = new Map<string, string>();
  for (const { file, stack, overrides } of CASES) {
    const name = `golden-${file}`;
    const graph = await buildStack(stack, overrides, FACTS, name);
    const session = (await programTimeScripts(stack, overrides)).map((script, i) => `script ${i + 1}: ${remember(script, scripts)}`);
    compare(`${file}.txt`, `=== (program-time session)\n${session.join("\n")}\n${render(graph, name, scripts)}`);
  }
  const scriptDir = path.join(GOLDEN_DIR, "scripts");
  if (UPDATE) fs.rmSync(scriptDir, { recursive: true, force: true });
  for (const [sha, script] of scripts) compare(path.join("scripts", `${sha}.golden`), script);
  if (!UPDATE) {
    const stale = fs.readdirSync(scriptDir).filter((f) => !scripts.has(f.replace(/\.golden$/, "")));
    assert.deepEqual(stale, [], "golden scripts no graph sends any more; rewrite with GOLDEN_UPDATE=1");
  }
});
