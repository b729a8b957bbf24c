import { z } from "zod";
import { DEFAULT_MIN_FREE_DISK_MB, defaultDashboardsHostname, ENVIRONMENT_DEFAULTS, ENVIRONMENTS, EnvironmentName, MONITORING_DEFAULTS } from "../defaults";
import { bool, dnsName, sizeValue, wholeNumber } from "../values";

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
        // The dashboards' own hostname through the Cloudflare tunnel, behind Access; unset: derived from cloudflare.hostname.
        hostname: dnsName("a DNS name beside cloudflare.hostname").optional(),
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
        // Of the requests through an environment's proxy, the share answered 5xx that alerts.
        errorRatePercent: wholeNumber(1, 100).default(MONITORING_DEFAULTS.errorRatePercent),
        gpuMemoryFullPercent: wholeNumber(50, 100).default(MONITORING_DEFAULTS.gpuMemoryFullPercent),
        // The health URL of each environment on this host; this stack's own comes from its app settings.
        probes: z
          .partialRecord(
            z.enum(ENVIRONMENTS, { error: `keys must be environments: ${ENVIRONMENTS.join(", ")}` }),
            z.string().regex(/^http:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9._~\/?=&%-]*$/, { error: "must be a URL on this host, e.g. http://127.0.0.1:17801/api/schema/info" }),
          )
          .default({}),
        // Where each environment's proxy serves its metrics; this stack's own comes from its app settings.
        proxies: z
          .partialRecord(
            z.enum(ENVIRONMENTS, { error: `keys must be environments: ${ENVIRONMENTS.join(", ")}` }),
            z.string().regex(/^(127\.0\.0\.1:\d{1,5}|none)$/, { error: "must be 127.0.0.1:<port> (that stack's app.proxyMetricsPort) or none (a stack without blue-green has no proxy)" }),
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

/**
 * The dashboards' hostname is served only where it can be: on the stack that runs the monitoring,
 * through its Cloudflare tunnel; and only where Cloudflare's free certificate covers it.
 */
export function checkDashboardsHostname(
  monitoring: { enabled: boolean; hostname?: string },
  cloudflare: { enabled: boolean; hostname?: string },
  ctx: z.RefinementCtx,
) {
  const remove = "Remove it ('pulumi config rm --path host.monitoring.hostname')";
  if (monitoring.hostname !== undefined && !monitoring.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["host", "monitoring", "enabled"],
      message: `is false on this stack, yet host.monitoring.hostname is set: the dashboards get a hostname only on the stack that runs them. ${remove}, or turn the monitoring on here`,
    });
  }
  if (monitoring.hostname !== undefined && !cloudflare.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["cloudflare", "enabled"],
      message:
        `is false on this stack, yet host.monitoring.hostname is set: the dashboards get a hostname only through the Cloudflare tunnel, behind Access ` +
        `(without it they are reached through an SSH tunnel). ${remove}, or turn Cloudflare on here`,
    });
  }
  // The default sits beside cloudflare.hostname by construction; a set one must too. A malformed name is reported on its own.
  const hostname = monitoring.hostname;
  if (hostname === undefined || !monitoring.enabled || !cloudflare.enabled || cloudflare.hostname === undefined) return;
  if (![hostname, cloudflare.hostname].every((name) => dnsName("").safeParse(name).success)) return;
  const parent = (name: string) => name.slice(name.indexOf(".") + 1);
  const suggestion = defaultDashboardsHostname(cloudflare.hostname);
  if (hostname === cloudflare.hostname) {
    ctx.addIssue({
      code: "custom",
      path: ["host", "monitoring", "hostname"],
      message: `must differ from cloudflare.hostname (${cloudflare.hostname}), which serves the app; use e.g. ${suggestion}`,
    });
  } else if (parent(hostname) !== parent(cloudflare.hostname)) {
    ctx.addIssue({
      code: "custom",
      path: ["host", "monitoring", "hostname"],
      message:
        `is ${hostname}, which is not beside cloudflare.hostname (${cloudflare.hostname}): use a name in ${parent(cloudflare.hostname)}, e.g. ${suggestion}. ` +
        "Cloudflare's free Universal SSL certificate covers only names one level below the zone, and the record goes into cloudflare.zoneId",
    });
  }
}
