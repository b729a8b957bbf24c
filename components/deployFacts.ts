import { remoteInvocation, renderScript } from "./commands";
import { parseObservation, ServerObservation } from "./drift";
import { JOURNALD_DROPIN } from "./journald";
import { monitorObservationParams } from "./monitor";
import { offsiteObservationParams } from "./offsiteBackup";
import { ENV_DIR, environmentFileOf } from "./paths";
import { serviceObservationParams } from "./blueGreen";
import { offsiteEnabled, StackConfig } from "../config/schema";
import { runOverSsh, SshResult, SshTarget } from "../lib/ssh";

/** What the server says a deploy of this config means, known before any resource is registered. */
export interface DeployFacts {
  /** Full commit id: the branch head, or the pinned revision. */
  readonly commit: string;
  /** Git blob id of the requirements file at that commit. */
  readonly requirementsBlob: string;
  /** Git tree id of the frontend directory at that commit. */
  readonly frontendTree: string;
}

export type SshRunner = (target: SshTarget, command: string) => Promise<SshResult>;

export function parseFacts(stdout: string): DeployFacts {
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
  return { commit, requirementsBlob, frontendTree };
}

export interface ServerInspection {
  readonly facts: DeployFacts;
  readonly observed: ServerObservation;
}

/**
 * One SSH session before any resource is registered: fetch on the server (its deploy key reads
 * the repository) and resolve the branch or pinned revision, so that `pulumi preview` already
 * names the commit it would deploy; then observe what the server has, for drift review.
 */
export async function inspectServer(config: StackConfig, denyPorts: readonly number[], run: SshRunner = runOverSsh): Promise<ServerInspection> {
  const { server, app } = config;
  const observe = renderScript("observe", {
    INSTALL_DIR: app.installDir,
    ...serviceObservationParams(app.serviceName, app.installDir, ENV_DIR, app.deployStrategy),
    ENV_FILE: environmentFileOf(app.serviceName),
    DENY_PORTS: denyPorts.join(" "),
    JOURNALD_DROPIN,
    ...(config.monitor.enabled ? monitorObservationParams(app.serviceName, ENV_DIR) : {}),
    ...(offsiteEnabled(config.backup.offsite) ? offsiteObservationParams(app.serviceName, config.backup.offsite.repository) : {}),
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
    hostKey: server.hostKey,
  };
  const command = `${remoteInvocation(resolve, server.user)} && ${remoteInvocation(observe, server.user)}`;
  const result = await run(target, command);
  if (result.code !== 0) {
    throw new Error(
      `resolving ${app.revision ? `revision ${app.revision}` : `branch '${app.branch}'`} of ${app.repoUrl} on ${server.address} failed ` +
        `(exit ${result.code}); nothing was changed:\n${result.stderr.trim()}`,
    );
  }
  return { facts: parseFacts(result.stdout), observed: parseObservation(result.stdout) };
}
