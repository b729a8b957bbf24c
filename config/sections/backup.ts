import { z } from "zod";
import { sftpTarget } from "../../lib/restic";
import { OFFSITE_DEFAULTS } from "../defaults";
import { ENV_NAME, OFFSITE_REPOSITORY, bool, credentialValue, hostKey, privateKey, wholeNumber } from "../values";

/** backup.offsite.*: restic backups off the server. */
export function offsiteSettings() {
  // Off-host backups of shared/ with restic; on once a repository is set (unless enabled is false).
  const offsite = z.strictObject({
    enabled: bool.optional(),
    repository: z
      .string({ error: "must be a restic repository URL" })
      .regex(OFFSITE_REPOSITORY, {
        error: "must be a restic repository off this server: sftp:user@host:/path (tested), or rest:, s3:, b2:, azure:, gs:, swift:, rclone: (letters, digits and . _ - / : @ only)",
      })
      .optional(),
    password: z
      .string({ error: "must be the repository password, stored as a secret" })
      .min(16, { error: "must be at least 16 characters: it alone protects the pupils' data on the backup server" })
      .refine((v) => !/[\r\n\0]/.test(v), { error: "must be one line" })
      .optional(),
    sshKey: privateKey("the SSH private key the server logs in to the backup server with").optional(),
    hostKey: hostKey.optional(),
    credentials: z
      .record(z.string().regex(ENV_NAME, { error: "keys must be environment variable names, e.g. AWS_ACCESS_KEY_ID" }), credentialValue)
      .default({}),
    schedule: z
      .string({ error: "must be a systemd OnCalendar expression" })
      .regex(/^[A-Za-z0-9*:,.\/~ -]{1,100}$/, { error: "must be a systemd OnCalendar expression such as '*-*-* 02:30:00' or 'daily'" })
      .default(OFFSITE_DEFAULTS.schedule),
    // Every snapshot of the last N days is kept, the day's earlier ones beside a manual run's too.
    keepWithinDays: wholeNumber(1, 3650).default(OFFSITE_DEFAULTS.keepWithinDays),
    keepDaily: wholeNumber(1, 3650).default(OFFSITE_DEFAULTS.keepDaily),
    keepWeekly: wholeNumber(0, 520).default(OFFSITE_DEFAULTS.keepWeekly),
    keepMonthly: wholeNumber(0, 1200).default(OFFSITE_DEFAULTS.keepMonthly),
    checkSubset: z
      .string({ error: "must be a percentage such as 5% or a part such as 1/7" })
      .regex(/^(100|[1-9][0-9]?(\.[0-9]+)?)%$|^[1-9][0-9]*\/[1-9][0-9]*$/, { error: "must be a percentage such as 5% or a part such as 1/7 (restic check --read-data-subset)" })
      .default(OFFSITE_DEFAULTS.checkSubset),
    checkEveryDays: wholeNumber(1, 365).default(OFFSITE_DEFAULTS.checkEveryDays),
    maxAgeHours: wholeNumber(1, 8760).default(OFFSITE_DEFAULTS.maxAgeHours),
  });
  return offsite;
}

/** Whether a stack backs up off the server: a repository is set and enabled is not false. */
export function offsiteEnabled<T extends { enabled?: boolean; repository?: string }>(offsite: T): offsite is T & { repository: string } {
  return offsite.enabled !== false && offsite.repository !== undefined;
}

/**
 * backup.offsite as it takes effect, for the components: enabled is true exactly when a repository
 * is set and enabled is not false, and the repository is then known to be set.
 */
export function offsiteInEffect<T extends { enabled?: boolean; repository?: string }>(offsite: T) {
  return offsiteEnabled(offsite) ? { ...offsite, enabled: true as const } : { ...offsite, enabled: false as const };
}

/** What an enabled off-host backup needs beyond each key's own format. */
export function checkOffsite(
  offsite: { enabled?: boolean; repository?: string; password?: string; sshKey?: string; hostKey?: string },
  monitorEnabled: boolean,
  ctx: z.RefinementCtx,
) {
  const issue = (key: string, message: string) => ctx.addIssue({ code: "custom", path: ["backup", "offsite", key], message });
  if (offsite.enabled === true && offsite.repository === undefined) {
    issue("repository", "is required when backup.offsite.enabled is true: where restic keeps the encrypted snapshots, e.g. an SFTP account on another machine");
  }
  if (!offsiteEnabled(offsite)) return;
  if (offsite.password === undefined) {
    issue("password", "is required for an off-host backup: restic encrypts the repository with it; keep a copy off this server (docs/runbook.md: Disaster recovery)");
  }
  if (offsite.repository.startsWith("sftp:")) {
    if (sftpTarget(offsite.repository) === undefined) {
      issue("repository", "must name the account: sftp:user@host:/path or sftp://user@host:port//path");
    }
    if (offsite.sshKey === undefined) issue("sshKey", "is required for an sftp repository: the private key of the backup account, stored as a secret");
    if (offsite.hostKey === undefined) issue("hostKey", "is required for an sftp repository: pin the backup server's SSH host key");
  }
  if (!monitorEnabled) {
    issue("enabled", "needs monitor.enabled true: the health monitor's timer checks the backup's age and alerts when it fails or goes stale; set monitor.enabled true, or backup.offsite.enabled false");
  }
}
