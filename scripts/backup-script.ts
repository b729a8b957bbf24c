/**
 * Prints the backup-restore remote script for scripts/backup.sh, rendered by the same code
 * that renders every remote step of the program (parameters quoted, helpers inlined).
 * Arguments: ACTION BACKUP INSTALL_DIR UNIT_NAME SERVICE_NAME HEALTH_URL STACK REPOSITORY RESTORE_PATH
 * HEALTH_TIMEOUT_SECONDS DRAIN_TIMEOUT_SECONDS (BACKUP names a pre-deploy backup or, for the
 * off-host actions, a snapshot; REPOSITORY is empty when the stack has no off-host backup; the
 * timeouts are empty for the defaults). UNIT_NAME is the stack's serving unit: a color's
 * (<service>@blue.service) under blue-green, whose restore then moves to the standby color.
 */
import { renderScript } from "../components/steps/commands";
import { repositoryParams } from "../components/operations/offsiteBackup";
import { blueGreenNames, ENV_DIR, environmentFileOf } from "../lib/paths";
import { DEFAULT_DRAIN_TIMEOUT_SECONDS, DEFAULT_HEALTH_TIMEOUT_SECONDS } from "../config/defaults";

const [action, backup, installDir, unitName, serviceName, healthUrl, stack, repository, restorePath, healthTimeout, drainTimeout] =
  process.argv.slice(2);
const names = blueGreenNames(serviceName, installDir, ENV_DIR);
const blueGreen = unitName.startsWith(names.appTemplate);
process.stdout.write(
  renderScript("backup-restore", {
    ACTION: action,
    BACKUP: backup,
    INSTALL_DIR: installDir,
    UNIT_NAME: unitName,
    ENV_FILE: environmentFileOf(serviceName),
    HEALTH_URL: healthUrl,
    HEALTH_TIMEOUT_SECONDS: healthTimeout || DEFAULT_HEALTH_TIMEOUT_SECONDS,
    ...(blueGreen
      ? {
          APP_TEMPLATE: names.appTemplate,
          BRIDGE_TEMPLATE: names.bridgeTemplate,
          SOCKET_PREFIX: names.socketPrefix,
          SERVING_LINK: names.servingLink,
          STANDBY_LINK: names.standbyLink,
          COLOR_LINK_PREFIX: names.colorLinkPrefix,
          HEALTH_PATH: new URL(healthUrl).pathname,
          DRAIN_TIMEOUT_SECONDS: drainTimeout || DEFAULT_DRAIN_TIMEOUT_SECONDS,
          DRAIN_PREFIX: names.drainPrefix,
          DRAIN_PROGRAM_PREFIX: names.drainProgramPrefix,
        }
      : {}),
    ...(repository ? { ...repositoryParams(stack, serviceName, installDir, repository), SNAPSHOT: backup, RESTORE_PATH: restorePath || undefined } : {}),
  }),
);
