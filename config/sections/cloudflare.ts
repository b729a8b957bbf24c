import { z } from "zod";
import { CLOUDFLARE_DEFAULTS, EnvironmentName } from "../defaults";
import { MITIGATION_TIMEOUTS, RATE_LIMIT_PERIODS, absolutePath, bool, dnsName, noNewline, wholeNumber } from "../values";

/** cloudflare.*: tunnel, DNS, Access, rate limiting. */
export function cloudflareSettings(environment: EnvironmentName) {
  // Cloudflare: tunnel, DNS, Access, rate limiting. Nothing is built, nor any Cloudflare code loaded, unless enabled.
  const cloudflareId = (what: string) =>
    z.string({ error: `must be the 32-character ${what} ID` }).regex(/^[0-9a-f]{32}$/, { error: `must be the 32-character hex ${what} ID from the Cloudflare dashboard` });
  const oneOf = (values: readonly number[], what: string) =>
    z.coerce
      .number({ error: `must be one of ${values.join(", ")} (${what})` })
      .refine((v) => values.includes(v), { error: `must be one of ${values.join(", ")} (${what})` });
  const cloudflareHostname = CLOUDFLARE_DEFAULTS.hostname[environment];
  const cloudflare = z.strictObject({
    enabled: bool.default(false),
    accountId: cloudflareId("account").optional(),
    zoneId: cloudflareId("zone").optional(),
    hostname: cloudflareHostname
      ? dnsName("a DNS name in the zone").default(cloudflareHostname)
      : dnsName("a DNS name in the zone").optional(),
    apiToken: z
      .string({ error: "must be a Cloudflare API token, stored as a secret" })
      .regex(/^[A-Za-z0-9_-]{20,}$/, { error: "must be a Cloudflare API token (letters, digits, - and _)" })
      .optional(),
    access: z
      .strictObject({
        allowedEmails: z.array(z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { error: "must be an email address" })).default([]),
        allowedEmailDomains: z.array(dnsName("an email domain such as example.org")).default([]),
        countries: z
          .array(z.string().regex(/^[A-Z]{2}$/, { error: "must be a two-letter country code in upper case, e.g. DE" }))
          .min(1, { error: "must name at least one country" })
          .default([...CLOUDFLARE_DEFAULTS.countries]),
        sessionDuration: z
          .string()
          .regex(/^(\d+(ms|s|m|h))+$/, { error: "must be a duration such as 24h or 30m" })
          .default(CLOUDFLARE_DEFAULTS.sessionDuration),
        // Zero Trust team name: when set, cloudflared also checks each request's Access token.
        teamName: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "must be the Zero Trust team name (<team>.cloudflareaccess.com)" }).optional(),
      })
      .prefault({}),
    // The rule's values stay unset here so that setting them on a stack that does not own the ruleset is caught.
    rateLimit: z
      .strictObject({
        ownedByThisStack: bool.default(environment === CLOUDFLARE_DEFAULTS.rateLimitOwner),
        requestsPerPeriod: wholeNumber(1, 1000000).optional(),
        periodSeconds: oneOf(RATE_LIMIT_PERIODS, "seconds; a Free zone takes only 10").optional(),
        mitigationTimeoutSeconds: oneOf(MITIGATION_TIMEOUTS, "seconds; a Free zone takes only 10").optional(),
        expression: noNewline("a Cloudflare rules expression").optional(),
      })
      .prefault({}),
    connector: z
      .strictObject({
        packageSource: z
          .enum(["cloudflare-apt", "installed"], { error: "must be cloudflare-apt or installed" })
          .default(CLOUDFLARE_DEFAULTS.packageSource),
        binaryPath: absolutePath.default(CLOUDFLARE_DEFAULTS.binaryPath),
        aptRepository: z.string().regex(/^https:\/\/[A-Za-z0-9._\/-]+$/, { error: "must be an https URL" }).default(CLOUDFLARE_DEFAULTS.aptRepository),
        aptKeyUrl: z.string().regex(/^https:\/\/[A-Za-z0-9._\/-]+$/, { error: "must be an https URL" }).default(CLOUDFLARE_DEFAULTS.aptKeyUrl),
      })
      .prefault({}),
  });
  return cloudflare;
}

/** What an enabled Cloudflare section needs beyond each key's own format. */
export function checkCloudflare(
  cf: { accountId?: string; zoneId?: string; hostname?: string; apiToken?: string; access: { allowedEmails: string[]; allowedEmailDomains: string[] }; rateLimit: Record<string, unknown> },
  environment: EnvironmentName,
  ctx: z.RefinementCtx,
) {
  const required: Array<[keyof typeof cf, string]> = [
    ["accountId", "the Cloudflare account that holds the tunnel and Access (dashboard: Account home > Account ID)"],
    ["zoneId", "the zone of the hostname (dashboard: the domain's Overview > Zone ID)"],
    ["apiToken", "an API token with Tunnel, Access (apps and policies) edit on the account and DNS and rate-limit rule edit on the zone, stored as a secret"],
    ["hostname", `the public name of this stack${environment === "production" ? "" : `; ${environment} has no default, give it its own one level below the zone`}`],
  ];
  for (const [key, what] of required) {
    if (cf[key] === undefined) {
      ctx.addIssue({ code: "custom", path: ["cloudflare", key], message: `is required when cloudflare.enabled is true: ${what}` });
    }
  }
  if (cf.access.allowedEmails.length === 0 && cf.access.allowedEmailDomains.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["cloudflare", "access", "allowedEmails", 0],
      message: "is empty and so is cloudflare.access.allowedEmailDomains: the Access policy would admit nobody; allow at least one email or email domain",
    });
  }
  const ruleKeys = ["requestsPerPeriod", "periodSeconds", "mitigationTimeoutSeconds", "expression"].filter((k) => cf.rateLimit[k] !== undefined);
  if (!cf.rateLimit.ownedByThisStack && ruleKeys.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["cloudflare", "rateLimit", "ownedByThisStack"],
      message:
        `is false on this stack (the default for ${environment}), yet cloudflare.rateLimit.${ruleKeys.join(", ")} ${ruleKeys.length === 1 ? "is" : "are"} set. ` +
        "A zone holds one rate-limit (http_ratelimit) ruleset and this check cannot see the other stack: let exactly one stack own it " +
        `(${CLOUDFLARE_DEFAULTS.rateLimitOwner} does by default). Remove these settings here, or set ownedByThisStack true here and false on the other stack`,
    });
  }
}
