import { z } from "zod";
import { MONITOR_DEFAULTS } from "../defaults";
import { bool, wholeNumber } from "../values";

/** monitor.*: the health monitor on the server. */
export function monitorSettings() {
  // Health monitoring on the server: a systemd timer probes the health URL and alerts once per outage.
  const monitor = z.strictObject({
    enabled: bool.default(true),
    intervalSeconds: wholeNumber(1, 86400).default(MONITOR_DEFAULTS.intervalSeconds),
    alertAfterSeconds: wholeNumber(0, 86400).default(MONITOR_DEFAULTS.alertAfterSeconds),
    webhookUrl: z
      .string({ error: "must be an http(s) URL, stored as a secret" })
      .regex(/^https?:\/\/[^\s"'\\]+$/, { error: "must be an http(s) URL without spaces or quotes, stored as a secret" })
      .optional(),
  });
  return monitor;
}
