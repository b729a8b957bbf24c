/**
 * What the operator's commands (npm run smoke, scripts/backup.sh) read of a stack, through the
 * pulumi CLI in the checkout that deploys it: its settings, parsed by the program's own schema
 * (defaults filled in, secrets decrypted), and its outputs.
 */
import { execFileSync } from "child_process";
import { parseStackConfig, PROJECT, readRawConfig } from "../../config/load";
import { StackConfig } from "../../config/schema";

export function pulumiCli(args: string[]): string {
  return execFileSync("pulumi", args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 }).toString();
}

/** The stack's settings, as the program reads them. */
export function stackConfig(stack: string): StackConfig {
  const entries = JSON.parse(pulumiCli(["config", "--json", "--show-secrets", "--stack", stack])) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
  const { raw, secretSections } = readRawConfig(
    (section) => entries[`${PROJECT}:${section}`]?.objectValue ?? entries[`${PROJECT}:${section}`]?.value,
    (section) => entries[`${PROJECT}:${section}`]?.secret === true,
  );
  return parseStackConfig(stack, raw, secretSections).config;
}

/** What the program's index.ts exports and these commands read. */
export interface StackOutputs {
  /** The app's health URL on the server (http://127.0.0.1:<port><healthPath>). */
  readonly url?: string;
  /** The unit that serves: a color's under blue-green. */
  readonly serviceName?: string;
  /** The host key recorded on first use when server.hostKey is not set. */
  readonly serverHostKey?: string;
  readonly publicUrl?: string;
  readonly accessCheckToken?: { clientId: string; clientSecret: string };
}

/** The stack's outputs; fails naming the fix when it was never deployed. */
export function stackOutputs(stack: string): StackOutputs & { url: string; serviceName: string } {
  const outputs = JSON.parse(pulumiCli(["stack", "output", "--json", "--show-secrets", "--stack", stack])) as StackOutputs;
  if (!outputs.url || !outputs.serviceName) throw new Error(`stack ${stack} has no outputs url and serviceName; run 'pulumi up -s ${stack}' first`);
  return outputs as StackOutputs & { url: string; serviceName: string };
}

/** The stack's server as SSH reaches it: server.hostKey, else the key recorded on first use. */
export function serverTarget(stack: string, config: StackConfig, outputs: StackOutputs) {
  const hostKey = config.server.hostKey ?? outputs.serverHostKey;
  if (!hostKey) throw new Error(`stack ${stack} pins no server.hostKey and has recorded none; run 'pulumi up -s ${stack}' once, or pin it (docs/settings.md: Setting up a stack)`);
  return { host: config.server.address, port: config.server.port, user: config.server.user, privateKey: config.server.privateKey, hostKey };
}
