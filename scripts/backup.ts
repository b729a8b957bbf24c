/**
 * scripts/backup.sh: list or restore a stack's pre-deploy backups on its server, or its off-host
 * snapshots (restic). The stack's settings come through the program's own schema (defaults and
 * all), the remote script from the program's renderer, and the SSH connection from the
 * program's SSH code with the stack's pinned host key: nothing here derives a setting again.
 *   list|restore <stack> [name|latest]
 *   snapshots|restore-offsite <stack> [snapshot|latest] [path below shared/]
 *   repair-offsite <stack>
 */
import { spawnSync } from "child_process";
import { remoteInvocation, renderScript } from "../components/steps/commands";
import { repositoryParams } from "../components/operations/offsiteBackup";
import { StackConfig } from "../config/schema";
import { blueGreenNames, ENV_DIR, environmentFileOf } from "../lib/paths";
import { openSsh } from "../lib/ssh";
import { serverTarget, stackConfig, stackOutputs } from "./lib/stack";

export const ACTIONS = ["list", "restore", "snapshots", "restore-offsite", "repair-offsite"] as const;
export type BackupAction = (typeof ACTIONS)[number];

const USAGE = `usage: scripts/backup.sh list <stack>
       scripts/backup.sh restore <stack> [<backup name>|latest]
       scripts/backup.sh snapshots <stack>
       scripts/backup.sh restore-offsite <stack> [<snapshot id>|latest] [<path below shared/>]
       scripts/backup.sh repair-offsite <stack>`;

/** Most arguments each action takes, the stack included. */
const ARITY: Record<BackupAction, number> = { list: 1, snapshots: 1, "repair-offsite": 1, restore: 2, "restore-offsite": 3 };

export interface BackupRequest {
  readonly action: BackupAction;
  readonly stack: string;
  /** A pre-deploy backup's name or, for the off-host actions, a snapshot; `latest` by default. */
  readonly backup: string;
  /** restore-offsite: one path below shared/; all of it when empty. */
  readonly restorePath: string;
}

/** The command line's words as a request, or undefined for a usage error. */
export function parseBackupArgs(args: readonly string[]): BackupRequest | undefined {
  const [action, stack, backup, restorePath] = args;
  if (!(ACTIONS as readonly string[]).includes(action) || !stack) return undefined;
  if (args.length - 1 > ARITY[action as BackupAction]) return undefined;
  return { action: action as BackupAction, stack, backup: backup || "latest", restorePath: restorePath ?? "" };
}

/**
 * The backup-restore script for the stack's server. `unitName` is the unit that serves (the
 * stack's output serviceName): a color's under blue-green, whose restore then moves to the
 * standby color.
 */
export function backupScript(request: BackupRequest, config: StackConfig, unitName: string, healthUrl: string): string {
  const { installDir, serviceName } = config.app;
  const offsite = config.backup.offsite;
  if (request.action !== "list" && request.action !== "restore" && !offsite.repository) {
    throw new Error(`stack ${request.stack} has no off-host backup (backup.offsite.repository); see docs/runbook.md: Off-host backups`);
  }
  const names = blueGreenNames(serviceName, installDir, ENV_DIR);
  const blueGreen = unitName.startsWith(names.appTemplate);
  return renderScript("backup-restore", {
    ACTION: request.action,
    BACKUP: request.backup,
    INSTALL_DIR: installDir,
    UNIT_NAME: unitName,
    ENV_FILE: environmentFileOf(serviceName),
    HEALTH_URL: healthUrl,
    HEALTH_TIMEOUT_SECONDS: config.app.healthTimeoutSeconds,
    ...(blueGreen
      ? {
          APP_TEMPLATE: names.appTemplate,
          BRIDGE_TEMPLATE: names.bridgeTemplate,
          SOCKET_PREFIX: names.socketPrefix,
          SERVING_LINK: names.servingLink,
          STANDBY_LINK: names.standbyLink,
          COLOR_LINK_PREFIX: names.colorLinkPrefix,
          HEALTH_PATH: new URL(healthUrl).pathname,
          DRAIN_TIMEOUT_SECONDS: config.app.drainTimeoutSeconds,
          DRAIN_PREFIX: names.drainPrefix,
          DRAIN_PROGRAM_PREFIX: names.drainProgramPrefix,
        }
      : {}),
    ...(offsite.repository
      ? { ...repositoryParams(request.stack, serviceName, installDir, offsite.repository), SNAPSHOT: request.backup, RESTORE_PATH: request.restorePath || undefined }
      : {}),
  });
}

/** Run the action on the stack's server, its output shown as it comes; the remote exit code. */
async function run(request: BackupRequest): Promise<number> {
  const config = stackConfig(request.stack);
  const outputs = stackOutputs(request.stack);
  const script = backupScript(request, config, outputs.serviceName, outputs.url);
  const session = await openSsh(serverTarget(request.stack, config, outputs));
  try {
    // A restore of a large shared/ from the backup server takes as long as the transfer.
    const result = await session.run(remoteInvocation(script, config.server.user), { timeoutMs: 12 * 3600_000, live: { stdout: process.stdout, stderr: process.stderr } });
    return result.code;
  } finally {
    session.close();
  }
}

if (require.main === module) {
  const request = parseBackupArgs(process.argv.slice(2));
  if (!request) {
    console.error(USAGE);
    process.exit(2);
  }
  // The operator's pulumi reads the stack (its backend, its passphrase), as for `pulumi up`.
  if (spawnSync("pulumi", ["version"], { stdio: "ignore" }).error) {
    console.error("[backup] pulumi is not on PATH (the one 'pulumi up' runs with)");
    process.exit(1);
  }
  run(request).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      console.error(`[backup] ${err.message}`);
      process.exitCode = 1;
    },
  );
}
