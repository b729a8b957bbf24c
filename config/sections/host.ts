import { z } from "zod";
import { DEFAULT_MIN_FREE_DISK_MB, ENVIRONMENT_DEFAULTS, EnvironmentName } from "../defaults";
import { bool, sizeValue, wholeNumber } from "../values";

/** host.*: what one stack owns of the host (journald, ufw). */
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
