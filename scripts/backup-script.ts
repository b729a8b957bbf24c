/**
 * Prints the backup-restore remote script for scripts/backup.sh, rendered by the same code
 * that renders every remote step of the program (parameters quoted, helpers inlined).
 * Arguments: ACTION BACKUP INSTALL_DIR UNIT_NAME SERVICE_NAME HEALTH_URL STACK REPOSITORY RESTORE_PATH
 * (BACKUP names a pre-deploy backup or, for the off-host actions, a snapshot; REPOSITORY is
 * empty when the stack has no off-host backup).
 */
import { renderScript } from "../components/steps/commands";
import { repositoryParams } from "../components/operations/offsiteBackup";
import { environmentFileOf } from "../lib/paths";

const [action, backup, installDir, unitName, serviceName, healthUrl, stack, repository, restorePath] = process.argv.slice(2);
process.stdout.write(
  renderScript("backup-restore", {
    ACTION: action,
    BACKUP: backup,
    INSTALL_DIR: installDir,
    UNIT_NAME: unitName,
    ENV_FILE: environmentFileOf(serviceName),
    HEALTH_URL: healthUrl,
    ...(repository ? { ...repositoryParams(stack, serviceName, installDir, repository), SNAPSHOT: backup, RESTORE_PATH: restorePath || undefined } : {}),
  }),
);
