import { SSH_RULE_TAG } from "../host/firewall";
import * as crypto from "crypto";
import { remoteInvocation, renderScript } from "../steps/commands";
import { parseObservation, ServerObservation } from "../providers/drift";
import { JOURNALD_DROPIN } from "../host/journald";
import { monitorObservationParams } from "../operations/monitor";
import { offsiteObservationParams } from "../operations/offsiteBackup";
import { ENV_DIR, environmentFileOf, serviceObservationParams } from "../../lib/paths";
import { ConfigError } from "../../lib/errors";
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { claimProblems, claimsOf, identityOf, identityProblems, identityRecordOf, renderClaims, renderIdentity } from "./stackIdentity";
import { hostKeyBlob, RunOptions, runOverSsh, SshResult, SshTarget } from "../../lib/ssh";

/** What the server says a deploy of this config means, known before any resource is registered. */
export interface DeployFacts {
  /** Full commit id: the branch head, or the pinned revision. */
  readonly commit: string;
  /** Git blob id of the requirements file at that commit. */
  readonly requirementsBlob: string;
  /** Git tree id of the frontend directory at that commit. */
  readonly frontendTree: string;
  /**
   * Which layout of this stack the server has: the id host-layout wrote, or a new one when the
   * server has none (a first deploy, a new machine, a wiped install dir). Every step's create
   * script carries it, so a server that lost its layout re-runs every step, in place.
   */
  readonly layoutId: string;
}

export type SshRunner = (target: SshTarget, command: string, options?: RunOptions) => Promise<SshResult>;

/** A fresh layout id: random, as nothing on a new server tells it from the old one's disk. */
export function newLayoutId(): string {
  return crypto.randomBytes(8).toString("hex");
}

export function parseFacts(stdout: string, layoutId: string): DeployFacts {
  const values = new Map(
    stdout
      .split("\n")
      .map((line) => line.match(/^(commit|requirements|frontend)=([0-9a-f]{40})$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]] as const),
  );
  const commit = values.get("commit");
  const requirementsBlob = values.get("requirements");
  const frontendTree = values.get("frontend");
  if (!commit || !requirementsBlob || !frontendTree) {
    throw new Error(`the server's answer lacks commit, requirements or frontend ids:\n${stdout}`);
  }
  return { commit, requirementsBlob, frontendTree, layoutId };
}

export interface ServerInspection {
  readonly facts: DeployFacts;
  readonly observed: ServerObservation;
  /**
   * The host key every step pins: server.hostKey, else the one this stack recorded when it first
   * connected, else (that first time) the one the server presented now.
   */
  readonly hostKey: string;
  /** The server was trusted on first use in this run: no key was set nor recorded. */
  readonly firstUse: boolean;
}

/** The refusal when a server presents another key than the one the stack recorded. */
export function changedHostKeyError(stack: string, address: string, recorded: string, presented: string | undefined): ConfigError {
  return new ConfigError(stack, [
    `server.hostKey is not set, and the server at ${address} presented ${presented ?? "a host key"}, not the key this stack ` +
      `recorded when it first connected (${recorded}); nothing was sent to it. If the server was reinstalled or replaced, compare ` +
      `its key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) with ssh-keyscan -t ed25519 ${address}, then pin it: ` +
      `pulumi config set --path server.hostKey "$(ssh-keyscan -t ed25519 ${address} | cut -d' ' -f2-)"`,
  ]);
}

/**
 * One SSH session before any resource is registered: check that the config keeps the stack's
 * identity on the server (stackIdentity.ts; before anything else, so a refused change touches
 * nothing), fetch on the server (its deploy key reads the repository) and resolve the branch or
 * pinned revision, so that `pulumi preview` already names the commit it would deploy; then
 * observe what the server has, for drift review.
 */
export async function inspectServer(
  stack: string,
  environment: EnvironmentName,
  config: StackConfig,
  denyPorts: readonly number[],
  run: SshRunner = runOverSsh,
  recordedHostKey?: string,
): Promise<ServerInspection> {
  const { server, app } = config;
  const identity = renderScript("stack-identity", {
    IDENTITY_RECORD: identityRecordOf(stack),
    IDENTITY: renderIdentity(identityOf(environment, config)),
    CLAIMS: renderClaims(claimsOf(config)),
  });
  const observe = renderScript("observe", {
    INSTALL_DIR: app.installDir,
    ...serviceObservationParams(app.serviceName, app.installDir, ENV_DIR, app.deployStrategy),
    ENV_FILE: environmentFileOf(app.serviceName),
    DENY_PORTS: denyPorts.join(" "),
    SSH_RULE_TAG,
    JOURNALD_DROPIN,
    ...(config.monitor.enabled ? monitorObservationParams(app.serviceName, ENV_DIR) : {}),
    ...(config.backup.offsite.enabled ? offsiteObservationParams(app.serviceName, config.backup.offsite.repository) : {}),
  });
  const resolve = renderScript("resolve", {
    INSTALL_DIR: app.installDir,
    REPO_URL: app.repoUrl,
    BRANCH: app.branch,
    REVISION: app.revision,
    REQUIREMENTS_FILE: app.requirementsFile,
    FRONTEND_DIR: app.frontendDir,
  });
  const target: SshTarget = {
    host: server.address,
    port: server.port,
    user: server.user,
    privateKey: server.privateKey,
    hostKey: server.hostKey ?? recordedHostKey,
  };
  const command = [identity, resolve, observe].map((script) => remoteInvocation(script, server.user)).join(" && ");
  let presented: string | undefined;
  const result = await run(target, command, { presentedHostKey: (line) => (presented = line) }).catch((err: unknown) => {
    // The verifier's own comparison: the key blobs.
    if (!server.hostKey && recordedHostKey && presented && !hostKeyBlob(presented).equals(hostKeyBlob(recordedHostKey))) {
      throw changedHostKeyError(stack, server.address, recordedHostKey, presented);
    }
    throw err;
  });
  const refusal = parseObservation(result.stdout);
  if (result.code === 3 && (refusal.has("identity") || refusal.has("claimed"))) {
    throw new ConfigError(stack, [
      ...identityProblems(stack, server.address, identityOf(environment, config), refusal.get("identity")),
      ...claimProblems(server.address, refusal.get("claimed")),
    ]);
  }
  if (result.code !== 0) {
    throw new Error(
      `resolving ${app.revision ? `revision ${app.revision}` : `branch '${app.branch}'`} of ${app.repoUrl} on ${server.address} failed ` +
        `(exit ${result.code}); nothing was changed:\n${result.stderr.trim()}`,
    );
  }
  const observed = parseObservation(result.stdout);
  const layout = observed.get("layout");
  const hostKey = target.hostKey ?? presented;
  if (hostKey === undefined) throw new Error(`${server.address} presented no host key`);
  return { facts: parseFacts(result.stdout, layout && layout !== "<missing>" ? layout : newLayoutId()), observed, hostKey, firstUse: target.hostKey === undefined };
}
