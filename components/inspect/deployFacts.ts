import { SSH_RULE_TAG } from "../host/firewall";
import * as crypto from "crypto";
import { remoteInvocation, renderScript } from "../steps/commands";
import { parseObservation, ServerObservation } from "../providers/drift";
import { JOURNALD_DROPIN } from "../host/journald";
import { monitoringObservationParams } from "../operations/monitoring";
import { monitorObservationParams } from "../operations/monitor";
import { extraServiceObservationParams } from "../service/extraService";
import { offsiteObservationParams } from "../operations/offsiteBackup";
import { activationDirOf, activationUnitOf, deployLockOf, ENV_DIR, environmentFileOf, serviceObservationParams } from "../../lib/paths";
import { ConfigError } from "../../lib/errors";
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { recordOf, recordProblems, stackRecords } from "./stackIdentity";
import { ConnectOptions, hostKeyBlob, openSsh, SshResult, SshSession, SshTarget } from "../../lib/ssh";

/** What the server says a deploy of this config means, known before any resource is registered. */
export interface DeployFacts {
  /** Full commit id: the branch head, or the pinned revision. */
  readonly commit: string;
  /** Git blob id of the requirements file at that commit. */
  readonly requirementsBlob: string;
  /** Git tree id of the frontend directory at that commit. */
  readonly frontendTree: string;
  /** Git tree id of each extra service's directory at that commit (app.services this stack runs), by name. */
  readonly serviceTrees: Readonly<Record<string, string>>;
  /**
   * Which layout of this stack the server has: the id host-layout wrote, or a new one when the
   * server has none (a first deploy, a new machine, a wiped install dir). Every step's create
   * script carries it, so a server that lost its layout re-runs every step, in place.
   */
  readonly layoutId: string;
}

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
  const serviceTrees = Object.fromEntries(
    stdout
      .split("\n")
      .map((line) => line.match(/^service:([a-z0-9-]+)=([0-9a-f]{40})$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return { commit, requirementsBlob, frontendTree, serviceTrees, layoutId };
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
  /** Lets go of the deploy lock (when one was taken) before the process ends, as a process that ends does. */
  readonly releaseDeployLock: () => void;
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
 * What the next run tells of an activation whose `pulumi up` lost its connection (observe.sh's
 * and deploy-lock.sh's `last-activation` section): still running, or how it ended, and where
 * to read it. Undefined when there is nothing to tell.
 */
export function lastActivationReport(section: string | undefined, installDir: string, serviceName: string): string | undefined {
  if (!section) return undefined;
  const run = new Map(section.split("\n").map((line) => line.split(/=(.*)/s, 2) as [string, string]));
  const which = `the activation of ${run.get("commit")} (started ${run.get("started")} by ${run.get("by")})`;
  const read = `its output: ${activationDirOf(installDir)}/output and errors; 'journalctl -u ${activationUnitOf(serviceName)}'; history: ${installDir}/revisions.log`;
  if (run.get("state") === "running") {
    return `${which} is still running on the server: the 'pulumi up' that started it lost its connection, and the server finishes it by itself. A new 'pulumi up' waits for it (${read}).`;
  }
  return `the last 'pulumi up' lost its connection before the server finished: ${which} ended at ${run.get("finished") || "?"}, ${run.get("verdict")} (${read}).`;
}

/** How the inspection opens its SSH session (tests give their own). */
export type SshOpener = (target: SshTarget, options: ConnectOptions) => Promise<SshSession>;

export interface InspectOptions {
  readonly open?: SshOpener;
  /** The key this stack recorded when it first connected (when server.hostKey is not set). */
  readonly recordedHostKey?: string;
  /**
   * `pulumi up` only: take the stack's deploy lock first and hold it until the program's process
   * ends, naming this holder (the operator and the machine) to a second `up` that is refused.
   */
  readonly deployLockHolder?: string;
}

/** The refusal while another `pulumi up` of the stack holds its deploy lock on the server. */
export function deployLockError(stack: string, address: string, lockText: string): ConfigError {
  const lock = new Map(lockText.split("\n").map((line) => line.split("=", 2) as [string, string]));
  return new ConfigError(stack, [
    `another 'pulumi up' of stack '${stack}' is deploying to ${address} (since ${lock.get("since") ?? "?"}, by ${lock.get("holder") ?? "?"}); ` +
      `two deploys of one stack never run at once, so nothing was sent. Wait for it to finish, then run 'pulumi up' again. If that ` +
      `'pulumi up' was lost with its network, the server lets go of its lock within a minute of its connection dying.`,
  ]);
}

/**
 * One SSH session before any resource is registered. First (`up` only) the stack's deploy lock;
 * then the records of the stacks on the server, which must agree with the config
 * (stackIdentity.ts: before anything that changes the server, so a refused change touches
 * nothing); then fetch on the server (its deploy key reads the repository) and resolve the branch
 * or pinned revision, so that `pulumi preview` already names the commit it would deploy; and
 * observe what the server has, for drift review and the last activation's report.
 */
export async function inspectServer(
  stack: string,
  environment: EnvironmentName,
  config: StackConfig,
  denyPorts: readonly number[],
  options: InspectOptions = {},
): Promise<ServerInspection> {
  const { server, app } = config;
  const { open = openSsh, recordedHostKey, deployLockHolder } = options;
  const activation = { RUN_DIR: activationDirOf(app.installDir), DEPLOY_UNIT: activationUnitOf(app.serviceName) };
  const invoke = (script: string) => remoteInvocation(script, server.user);
  const ownedServiceNames = Object.keys(app.services).filter((name) => app.services[name].owned);
  const identity = renderScript("stack-identity", { RECORDS_DIR: ENV_DIR });
  const observe = renderScript("observe", {
    INSTALL_DIR: app.installDir,
    ...serviceObservationParams(app.serviceName, app.installDir, ENV_DIR, app.deployStrategy),
    ENV_FILE: environmentFileOf(app.serviceName),
    DENY_PORTS: denyPorts.join(" "),
    SSH_RULE_TAG,
    JOURNALD_DROPIN,
    ...activation,
    ...(config.monitor.enabled ? monitorObservationParams(app.serviceName, ENV_DIR) : {}),
    ...extraServiceObservationParams(ownedServiceNames, app.installDir, config.monitor.enabled),
    ...(config.host.monitoring.enabled ? monitoringObservationParams(config.monitor.webhookUrl !== undefined, ENV_DIR) : {}),
    ...(config.backup.offsite.enabled ? offsiteObservationParams(app.serviceName, config.backup.offsite.repository) : {}),
  });
  const resolve = renderScript("resolve", {
    INSTALL_DIR: app.installDir,
    REPO_URL: app.repoUrl,
    BRANCH: app.branch,
    REVISION: app.revision,
    REQUIREMENTS_FILE: app.requirementsFile,
    FRONTEND_DIR: app.frontendDir,
    // Absent without extra services this stack runs: the script stays what it was.
    SERVICE_DIRS:
      ownedServiceNames.map((name) => `${name} ${app.services[name].directory}`).join("\n") || undefined,
  });
  const target: SshTarget = {
    host: server.address,
    port: server.port,
    user: server.user,
    privateKey: server.privateKey,
    hostKey: server.hostKey ?? recordedHostKey,
  };
  let presented: string | undefined;
  const session = await open(target, { presentedHostKey: (line) => (presented = line), detachable: deployLockHolder !== undefined }).catch((err: unknown) => {
    // The verifier's own comparison: the key blobs.
    if (!server.hostKey && recordedHostKey && presented && !hostKeyBlob(presented).equals(hostKeyBlob(recordedHostKey))) {
      throw changedHostKeyError(stack, server.address, recordedHostKey, presented);
    }
    throw err;
  });
  let holding = false;
  try {
    let lockReport = "";
    if (deployLockHolder !== undefined) {
      const lock = renderScript("deploy-lock", { DEPLOY_LOCK: deployLockOf(stack), HOLDER: deployLockHolder, ...activation });
      lockReport = await session.hold(invoke(lock), "@@ held").catch((err: Error & { result?: SshResult }) => {
        const refusal = parseObservation(err.result?.stdout ?? "");
        if (err.result?.code === 3 && refusal.has("deploy-lock")) throw deployLockError(stack, server.address, refusal.get("deploy-lock")!);
        throw new Error(`taking the deploy lock of stack '${stack}' on ${server.address} failed: ${err.message}\n${err.result?.stderr.trim() ?? ""}`);
      });
      holding = true;
    }
    const records = await session.run(invoke(identity));
    if (records.code !== 0) throw new Error(`reading the stacks' records on ${server.address} failed (exit ${records.code}):\n${records.stderr.trim()}`);
    const problems = recordProblems(stack, server.address, recordOf(environment, config), stackRecords(parseObservation(records.stdout)));
    if (problems.length > 0) throw new ConfigError(stack, problems);
    const result = await session.run([resolve, observe].map(invoke).join(" && "));
    if (result.code !== 0) {
      throw new Error(
        `resolving ${app.revision ? `revision ${app.revision}` : `branch '${app.branch}'`} of ${app.repoUrl} on ${server.address} failed ` +
          `(exit ${result.code}); nothing was changed:\n${result.stderr.trim()}`,
      );
    }
    const observed = parseObservation(`${lockReport}\n${result.stdout}`);
    const layout = observed.get("layout");
    const hostKey = target.hostKey ?? presented;
    if (hostKey === undefined) throw new Error(`${server.address} presented no host key`);
    return {
      facts: parseFacts(result.stdout, layout && layout !== "<missing>" ? layout : newLayoutId()),
      observed,
      hostKey,
      firstUse: target.hostKey === undefined,
      releaseDeployLock: () => session.close(),
    };
  } catch (err) {
    holding = false;
    throw err;
  } finally {
    // The lock is held until the program's process ends: the session ends with it.
    if (holding) session.detach();
    else session.close();
  }
}
