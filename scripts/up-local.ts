/**
 * `npm run up:local`: a real `pulumi up` of the development settings against the local test
 * server, in this checkout (stack `local`, state in .pulumi-state/). Run it again to redeploy;
 * `npm run down:local` stops the server.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { makeFixtureRepo, publishRepo, ROOT, SERVER_REPO, shOk, startTestServer } from "../tools/testserver/client";

const STACK = "local";
const LOCAL_SERVER = "ai4artsed-local";
const STATE_DIR = path.join(ROOT, ".pulumi-state");

function pulumi(args: string[], input?: string): string {
  return execFileSync("pulumi", args, {
    cwd: ROOT,
    input,
    env: { ...process.env, PULUMI_CONFIG_PASSPHRASE_FILE: path.join(STATE_DIR, "local-passphrase") },
    stdio: [input === undefined ? "inherit" : "pipe", "pipe", "inherit"],
  }).toString();
}

async function main(): Promise<void> {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const passphrase = path.join(STATE_DIR, "local-passphrase");
  if (!fs.existsSync(passphrase)) fs.writeFileSync(passphrase, crypto.randomBytes(24).toString("hex"), { mode: 0o600 });

  console.log("[up-local] booting the local test server");
  const server = startTestServer(LOCAL_SERVER);
  const repo = makeFixtureRepo();
  await publishRepo(server, repo);

  pulumi(["stack", "select", "--create", STACK]);
  const set = (key: string, value: string) => pulumi(["config", "set", "--path", "-s", STACK, key, "--", value]);
  set("environment", "development");
  set("providers", process.env.AI4ARTSED_PROVIDERS ?? "builtin");
  set("server.address", server.host);
  set("server.port", String(server.port));
  set("server.user", server.user);
  set("server.hostKey", server.hostKey!);
  pulumi(["config", "set", "--path", "--secret", "-s", STACK, "server.privateKey"], server.privateKey);
  set("app.repoUrl", SERVER_REPO);

  console.log(`[up-local] pulumi up -s ${STACK}`);
  execFileSync("pulumi", ["up", "--yes", "--skip-preview", "-s", STACK], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, PULUMI_CONFIG_PASSPHRASE_FILE: passphrase },
  });
  const outputs = JSON.parse(pulumi(["stack", "output", "--json", "-s", STACK]));
  const health = await shOk(server, `curl -s -o /dev/null -w '%{http_code}' ${outputs.url}`);
  console.log(`\n[up-local] ${outputs.serviceName} serves ${outputs.revision}`);
  console.log(`[up-local] health ${outputs.url} on the server: HTTP ${health}`);
  console.log(`[up-local] server: ssh -i ${server.keyFile} -o UserKnownHostsFile=${server.knownHosts} root@${server.host}`);
  console.log("[up-local] stop it with: npm run down:local");
  if (health !== "200") process.exitCode = 1;
}

main().catch((err) => {
  console.error(`[up-local] ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
