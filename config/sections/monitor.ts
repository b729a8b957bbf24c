import { z } from "zod";
import { MONITOR_DEFAULTS } from "../defaults";
import { bool, wholeNumber } from "../values";

/** monitor.*: the health monitor on the server. */
export function monitorSettings() {
  // Health monitoring on the server: a systemd timer probes the health URL, alerts once per outage
  // and reminds while it lasts.
  const hours = "must be a number of hours from 0 to 720, e.g. 24 or 0.5 (0: no reminders)";
  const monitor = z.strictObject({
    enabled: bool.default(true),
    intervalSeconds: wholeNumber(1, 86400).default(MONITOR_DEFAULTS.intervalSeconds),
    alertAfterSeconds: wholeNumber(0, 86400).default(MONITOR_DEFAULTS.alertAfterSeconds),
    remindEveryHours: z.coerce
      .number({ error: hours })
      .min(0, { error: hours })
      .max(720, { error: hours })
      .default(MONITOR_DEFAULTS.remindEveryHours),
    webhookUrl: z
      .string({ error: "must be an http(s) URL, stored as a secret" })
      .regex(/^https?:\/\/[^\s"'\\]+$/, { error: "must be an http(s) URL without spaces or quotes, stored as a secret" })
      .optional(),
  });
  return monitor;
}
