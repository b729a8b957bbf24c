import { z } from "zod";
import { DEFAULT_MIN_FREE_DISK_MB, ENVIRONMENT_DEFAULTS, ENVIRONMENTS, EnvironmentName, MONITORING_DEFAULTS } from "../defaults";
import { bool, sizeValue, wholeNumber } from "../values";

/** host.*: what one stack owns of the host (journald, ufw, Prometheus). */
export function hostSettings(environment: EnvironmentName) {
  const seed = ENVIRONMENT_DEFAULTS[environment];
  const host = z.strictObject({
    // A build (venv, frontend, release) stops before it starts when the install dir's filesystem has less free.
    minFreeDiskMb: wholeNumber(0, 100_000_000).default(DEFAULT_MIN_FREE_DISK_MB),
    journald: z
      .strictObject({
        manage: bool.default(seed.manageJournald),
        systemMaxUse: sizeValue.default("1G"),
        systemKeepFree: sizeValue.default("2G"),
        maxRetentionSec: z
          .string()
          .regex(/^\d+\s*(s|min|h|day|week|month|year)?$/, { error: "must be a time span such as 1month or 14day" })
          .default("1month"),
      })
      .prefault({}),
    // Prometheus, its exporters and Alertmanager, all on 127.0.0.1; one stack per host turns it on.
    monitoring: z
      .strictObject({
        enabled: bool.default(false),
        retentionTime: z
          .string()
          .regex(/^[1-9]\d*(h|d|w|y)$/, { error: "must be a time span such as 14d, 2w or 720h" })
          .default(MONITORING_DEFAULTS.retentionTime),
        retentionSize: z
          .string()
          .regex(/^[1-9]\d*(MB|GB|TB)$/, { error: "must be a size such as 500MB or 1GB" })
          .default(MONITORING_DEFAULTS.retentionSize),
        scrapeIntervalSeconds: wholeNumber(1, 300).default(MONITORING_DEFAULTS.scrapeIntervalSeconds),
        diskFullPercent: wholeNumber(50, 99).default(MONITORING_DEFAULTS.diskFullPercent),
        // The health URL of each environment on this host; this stack's own comes from its app settings.
        probes: z
          .partialRecord(
            z.enum(ENVIRONMENTS, { error: `keys must be environments: ${ENVIRONMENTS.join(", ")}` }),
            z.string().regex(/^http:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9._~\/?=&%-]*$/, { error: "must be a URL on this host, e.g. http://127.0.0.1:17801/api/schema/info" }),
          )
          .default({}),
      })
      .prefault({}),
    firewall: z
      .strictObject({
        manage: bool.default(true),
        sshPort: wholeNumber(1, 65535).optional(),
        denyPorts: z.array(wholeNumber(1, 65535)).default([]),
      })
      .prefault({}),
  });
  return host;
}
