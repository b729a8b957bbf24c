/**
 * Prints the backup-restore remote script for scripts/backup.sh, rendered by the same code
 * that renders every remote step of the program (parameters quoted, helpers inlined).
 * Arguments: ACTION BACKUP INSTALL_DIR UNIT_NAME SERVICE_NAME HEALTH_URL.
 */
import { renderScript } from "../components/commands";
import { environmentFileOf } from "../components/paths";

const [action, backup, installDir, unitName, serviceName, healthUrl] = process.argv.slice(2);
process.stdout.write(
  renderScript("backup-restore", {
    ACTION: action,
    BACKUP: backup,
    INSTALL_DIR: installDir,
    UNIT_NAME: unitName,
    ENV_FILE: environmentFileOf(serviceName),
    HEALTH_URL: healthUrl,
  }),
);
