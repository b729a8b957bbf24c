/** The value types the settings share: zod schemas with the error each one gives. */
import { z } from "zod";

/** Periods and mitigation timeouts Cloudflare's rate limiting accepts (seconds); a Free zone takes only 10. */
export const RATE_LIMIT_PERIODS = [10, 60, 120, 300, 600, 3600];
export const MITIGATION_TIMEOUTS = [0, 10, 60, 120, 300, 600, 3600, 86400];

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keys the program sets itself; a user value would be silently overridden. */
export const RESERVED_ENVIRONMENT_KEYS = ["PORT", "SECRET_KEY", "DEBUG", "LOG_LEVEL", "AI_TOOLS_BASE"];

export const bool = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: "must be true or false" }),
);
export const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });
export const absolutePath = z
  .string({ error: "must be an absolute path" })
  .regex(/^\/[A-Za-z0-9._\/-]+$/, { error: "must be an absolute path of letters, digits, . _ - /" })
  .refine((p) => !p.split("/").includes(".."), { error: "must not contain .." })
  .refine((p) => p.split("/").filter(Boolean).length >= 2, { error: "must be at least two levels deep, e.g. /opt/<name>" });
export const relativePath = z
  .string({ error: "must be a path inside the repository" })
  .regex(/^[A-Za-z0-9._-][A-Za-z0-9._\/*-]*$/, { error: "must be a relative path inside the repository" })
  .refine((p) => !p.split("/").includes(".."), { error: "must not contain .." });
export const sizeValue = z
  .string({ error: "must be a size such as 1G or 500M" })
  .regex(/^\d+[KMGT]?$/, { error: "must be a size such as 1G or 500M" });
/** A DNS name in lower case, e.g. lab.ai4artsed.org. */
export const dnsName = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { error: `must be ${what} in lower case` });
export const noNewline = (what: string) =>
  z.string({ error: `must be a string (${what})` }).refine((v) => !/[\r\n\0]/.test(v), {
    error: `must be one line (${what})`,
  });

/** An SSH private key, stored as a secret. */
export const privateKey = (what: string) =>
  z
    .string({ error: `is required: ${what}, stored as a secret` })
    .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { error: "must be an OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----)" });
/** A pinned OpenSSH host key line. */
export const hostKey = z
  .string()
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/, {
    error: "must be one OpenSSH public host key line, e.g. ssh-ed25519 AAAA...",
  });

/** restic backends off this server; a local path would keep the backup on the disk it protects. */
export const OFFSITE_REPOSITORY = /^(sftp|rest|s3|b2|azure|gs|swift|rclone):[A-Za-z0-9._\/:@\[\]-]+$/;
/**
 * A backend credential (e.g. AWS_SECRET_ACCESS_KEY): one line without quotes, backslashes, $ or
 * backticks, so systemd's EnvironmentFile and a shell read it alike.
 */
export const credentialValue = z
  .string({ error: "must be a credential value, stored as a secret" })
  .regex(/^[^\r\n\0"'`$\\]*$/, { error: "must be one line without quotes, backslashes, $ or backticks" });

/** Extra variables for the unit: names the program does not set itself, one-line values. */
export const variableMap = (what: string) =>
  z
    .record(
      z
        .string()
        .regex(ENV_NAME, { error: "keys must be environment variable names" })
        .refine((k) => !RESERVED_ENVIRONMENT_KEYS.includes(k), {
          error: `keys must not be one the program sets (${RESERVED_ENVIRONMENT_KEYS.join(", ")})`,
        }),
      noNewline(what),
    )
    .default({});
