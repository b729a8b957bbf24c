import { z } from "zod";
import { aiToolsBaseOf, blueGreenNames, ENV_DIR } from "../lib/paths";
import {
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  DEFAULT_HOST_LOOPBACK_PORTS,
  DEFAULT_HEALTH_PATH,
  DEPLOY_STRATEGIES,
  DEFAULT_SHARED_PATHS,
  DEFAULT_SYSTEM_PACKAGES,
  DEFAULT_TOOL_WRITABLE_PATHS,
  ENVIRONMENT_DEFAULTS,
  CLOUDFLARE_DEFAULTS,
  ENVIRONMENTS,
  EnvironmentName,
  MONITOR_DEFAULTS,
  OFFSITE_DEFAULTS,
} from "./defaults";

/**
 * How remote steps and generated secrets run: `plugins` through the command and random
 * provider plugins (what `pulumi up` downloads); `builtin` through this program's own dynamic
 * providers, for machines that cannot install those plugins.
 */
export const PROVIDERS = ["plugins", "builtin"] as const;

/** Settings that are lists: their example sets the first entry (`--path key[0]`). */
export const LIST_SETTINGS = new Set([
  "app.hostLoopbackPorts",
  "app.sharedPaths",
  "app.systemPackages",
  "app.writablePaths",
  "host.firewall.denyPorts",
  "cloudflare.access.allowedEmails",
  "cloudflare.access.allowedEmailDomains",
  "cloudflare.access.countries",
]);

/** Example values shown with every error, keyed by config path. */
export const EXAMPLES: Record<string, string> = {
  environment: "production",
  providers: "builtin",
  "server.address": "203.0.113.10",
  "server.port": "22",
  "server.user": "root",
  "server.privateKey": "--secret -- \"$(cat ~/.ssh/ai4artsed_deploy)\"",
  "server.hostKey": "\"$(ssh-keyscan -t ed25519 203.0.113.10 | cut -d' ' -f2-)\"",
  "app.repoUrl": "git@github.com:OWNER/ai4artsed_webserver.git",
  "app.branch": "main",
  "app.revision": "0123456789abcdef0123456789abcdef01234567",
  "app.installDir": "/opt/ai4artsed-production",
  "app.port": "17801",
  "app.serviceName": "ai4artsed-production",
  "app.serviceUser": "ai4artsed-production",
  "app.healthPath": DEFAULT_HEALTH_PATH,
  "app.healthTimeoutSeconds": "60",
  "app.stableSeconds": "120",
  "app.keepReleases": "5",
  "app.deployStrategy": "blue-green",
  "app.drainTimeoutSeconds": String(DEFAULT_DRAIN_TIMEOUT_SECONDS),
  "app.hostLoopbackPorts": "11434",
  "app.requirementsFile": "requirements.txt",
  "app.backendDir": "devserver",
  "app.frontendDir": "public/ai4artsed-frontend",
  "app.frontendInstallCommand": "\"npm ci\"",
  "app.frontendBuildCommand": "\"npm run build\"",
  "app.debug": "false",
  "app.logLevel": "INFO",
  "app.environment": "eu-central-1",
  "app.secrets": "sk-or-... --secret",
  "app.sharedPaths": "exports/",
  "app.systemPackages": "libpango-1.0-0",
  "app.writablePaths": "/opt/kohya_ss_new/dataset",
  "app.keepBackups": "10",
  "app.testCommand": "\"python -m pytest devserver/tests\"",
  "app.testTimeoutSeconds": "600",
  "monitor.enabled": "true",
  "monitor.intervalSeconds": "300",
  "monitor.alertAfterSeconds": "120",
  "monitor.webhookUrl": "--secret -- \"https://hooks.example.org/services/T000/B000/XXXX\"",
  "backup.offsite.enabled": "true",
  "backup.offsite.repository": "sftp:ai4artsed-backup@backup.example.org:/production",
  "backup.offsite.password": "--secret -- \"$(cat ~/ai4artsed-production-restic-password)\"",
  "backup.offsite.sshKey": "--secret -- \"$(cat ~/.ssh/ai4artsed_backup)\"",
  "backup.offsite.hostKey": "\"$(ssh-keyscan -t ed25519 backup.example.org | cut -d' ' -f2-)\"",
  "backup.offsite.credentials": "AKIA... --secret",
  "backup.offsite.schedule": `"${OFFSITE_DEFAULTS.schedule}"`,
  "backup.offsite.keepDaily": String(OFFSITE_DEFAULTS.keepDaily),
  "backup.offsite.keepWeekly": String(OFFSITE_DEFAULTS.keepWeekly),
  "backup.offsite.keepMonthly": String(OFFSITE_DEFAULTS.keepMonthly),
  "backup.offsite.checkSubset": OFFSITE_DEFAULTS.checkSubset,
  "backup.offsite.checkEveryDays": String(OFFSITE_DEFAULTS.checkEveryDays),
  "backup.offsite.maxAgeHours": String(OFFSITE_DEFAULTS.maxAgeHours),
  "host.journald.manage": "true",
  "host.journald.systemMaxUse": "1G",
  "host.journald.systemKeepFree": "2G",
  "host.journald.maxRetentionSec": "1month",
  "host.firewall.manage": "true",
  "host.firewall.sshPort": "22",
  "host.firewall.denyPorts": "5173",
  "cloudflare.enabled": "true",
  "cloudflare.accountId": "0123456789abcdef0123456789abcdef",
  "cloudflare.zoneId": "fedcba9876543210fedcba9876543210",
  "cloudflare.hostname": "lab-dev.ai4artsed.org",
  "cloudflare.apiToken": "--secret -- \"$CLOUDFLARE_API_TOKEN\"",
  "cloudflare.access.allowedEmails": "teacher@example.org",
  "cloudflare.access.allowedEmailDomains": "example.org",
  "cloudflare.access.countries": "DE",
  "cloudflare.access.sessionDuration": "24h",
  "cloudflare.access.teamName": "ai4artsed",
  "cloudflare.rateLimit.ownedByThisStack": "true",
  "cloudflare.rateLimit.requestsPerPeriod": "100",
  "cloudflare.rateLimit.periodSeconds": "60",
  "cloudflare.rateLimit.mitigationTimeoutSeconds": "600",
  "cloudflare.rateLimit.expression": "'(http.host eq \"lab.ai4artsed.org\")'",
  "cloudflare.connector.packageSource": "installed",
  "cloudflare.connector.binaryPath": "/usr/local/bin/cloudflared",
  "cloudflare.connector.aptRepository": "https://pkg.cloudflare.com/cloudflared",
  "cloudflare.connector.aptKeyUrl": "https://pkg.cloudflare.com/cloudflare-main.gpg",
};

/** Periods and mitigation timeouts Cloudflare's rate limiting accepts (seconds); a Free zone takes only 10. */
const RATE_LIMIT_PERIODS = [10, 60, 120, 300, 600, 3600];
const MITIGATION_TIMEOUTS = [0, 10, 60, 120, 300, 600, 3600, 86400];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keys the program sets itself; a user value would be silently overridden. */
export const RESERVED_ENVIRONMENT_KEYS = ["PORT", "SECRET_KEY", "DEBUG", "LOG_LEVEL", "AI_TOOLS_BASE"];

const bool = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: "must be true or false" }),
);
const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });
const absolutePath = z
  .string({ error: "must be an absolute path" })
  .regex(/^\/[A-Za-z0-9._\/-]+$/, { error: "must be an absolute path of letters, digits, . _ - /" })
  .refine((p) => !p.split("/").includes(".."), { error: "must not contain .." })
  .refine((p) => p.split("/").filter(Boolean).length >= 2, { error: "must be at least two levels deep, e.g. /opt/<name>" });
const relativePath = z
  .string({ error: "must be a path inside the repository" })
  .regex(/^[A-Za-z0-9._-][A-Za-z0-9._\/*-]*$/, { error: "must be a relative path inside the repository" })
  .refine((p) => !p.split("/").includes(".."), { error: "must not contain .." });
const sizeValue = z
  .string({ error: "must be a size such as 1G or 500M" })
  .regex(/^\d+[KMGT]?$/, { error: "must be a size such as 1G or 500M" });
const noNewline = (what: string) =>
  z.string({ error: `must be a string (${what})` }).refine((v) => !/[\r\n\0]/.test(v), {
    error: `must be one line (${what})`,
  });

/** An SSH private key, stored as a secret. */
const privateKey = (what: string) =>
  z
    .string({ error: `is required: ${what}, stored as a secret` })
    .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { error: "must be an OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----)" });
/** A pinned OpenSSH host key line. */
const hostKey = z
  .string()
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/, {
    error: "must be one OpenSSH public host key line, e.g. ssh-ed25519 AAAA...",
  });

/** restic backends off this server; a local path would keep the backup on the disk it protects. */
const OFFSITE_REPOSITORY = /^(sftp|rest|s3|b2|azure|gs|swift|rclone):[A-Za-z0-9._\/:@\[\]-]+$/;
/**
 * A backend credential (e.g. AWS_SECRET_ACCESS_KEY): one line without quotes, backslashes, $ or
 * backticks, so systemd's EnvironmentFile and a shell read it alike.
 */
const credentialValue = z
  .string({ error: "must be a credential value, stored as a secret" })
  .regex(/^[^\r\n\0"'`$\\]*$/, { error: "must be one line without quotes, backslashes, $ or backticks" });

/** Extra variables for the unit: names the program does not set itself, one-line values. */
const variableMap = (what: string) =>
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

/** The schema for one environment; defaults differ between production and development. */
export function configSchema(environment: EnvironmentName) {
  const seed = ENVIRONMENT_DEFAULTS[environment];
  const serviceName = `ai4artsed-${environment}`;

  const server = z.strictObject(
    {
    address: z
      .string({ error: "is required: the server's hostname or IP address" })
      .regex(/^[A-Za-z0-9.:-]+$/, { error: "must be a hostname or an IP address" }),
    port: wholeNumber(1, 65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, { error: "must be a Unix user name" })
      .default("root"),
    privateKey: privateKey("the SSH private key that logs in to the server"),
    hostKey: hostKey.optional(),
    },
    { error: "is required: the server to deploy to (address, hostKey, privateKey)" },
  );

  const app = z.strictObject(
    {
    repoUrl: z
      .string({ error: "is required: the git URL the server fetches from" })
      .regex(/^(https?:\/\/|ssh:\/\/|git@|file:\/\/\/|\/)\S+$/, { error: "must be a git URL (https://, ssh://, git@host:path, file:///path)" }),
    branch: z
      .string()
      .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._\/-]+$/, { error: "must be a git branch name" })
      .default(seed.branch),
    revision: z
      .string()
      .regex(/^[0-9a-f]{40}$/, { error: "must be a full 40-character commit id (git rev-parse <ref>)" })
      .optional(),
    installDir: absolutePath.default(seed.installDir),
    port: wholeNumber(1024, 65535).default(seed.port),
    serviceName: z
      .string()
      .regex(/^[A-Za-z0-9_.@-]+$/, { error: "must be a systemd unit name without .service" })
      .default(serviceName),
    serviceUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a Unix user name (lower case, up to 32 characters)" })
      .refine((u) => u !== "root", { error: "must not be root: the app runs unprivileged" })
      .default(serviceName),
    healthPath: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\/?=&%-]*$/, { error: "must be a URL path starting with /" })
      .default(DEFAULT_HEALTH_PATH),
    healthTimeoutSeconds: wholeNumber(5, 900).default(60),
    // After the switch, the new release must stay healthy this long or traffic goes back to the previous one.
    stableSeconds: wholeNumber(0, 3600).default(seed.stableSeconds),
    keepReleases: wholeNumber(2, 50).default(5),
    deployStrategy: z
      .enum(DEPLOY_STRATEGIES, { error: `must be one of ${DEPLOY_STRATEGIES.join(", ")}` })
      .default(seed.deployStrategy),
    drainTimeoutSeconds: wholeNumber(0, 3600).default(DEFAULT_DRAIN_TIMEOUT_SECONDS),
    hostLoopbackPorts: z.array(wholeNumber(1, 65535)).default(DEFAULT_HOST_LOOPBACK_PORTS),
    keepBackups: wholeNumber(1, 500).default(10),
    requirementsFile: relativePath.default("requirements.txt"),
    backendDir: relativePath.default("devserver"),
    frontendDir: relativePath.default("public/ai4artsed-frontend"),
    frontendInstallCommand: noNewline("a shell command").default("npm ci"),
    frontendBuildCommand: noNewline("a shell command").default("npm run build"),
    debug: bool.default(seed.debug),
    logLevel: z
      .enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], { error: "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" })
      .default(seed.logLevel as "INFO"),
    environment: variableMap("an environment value"),
    secrets: variableMap("a secret value"),
    sharedPaths: z.array(relativePath).default(DEFAULT_SHARED_PATHS),
    // Debian packages the app loads at run time, installed by the host step.
    systemPackages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, { error: "must be a Debian package name, e.g. libpango-1.0-0" }))
      .default(DEFAULT_SYSTEM_PACKAGES),
    // Writable for the service outside installDir; unset: the app's tool dirs under installDir's parent (writablePathsOf).
    writablePaths: z.array(absolutePath).optional(),
    // Run in each new release before it goes live; a failure stops the deploy.
    testCommand: noNewline("a shell command").optional(),
    testTimeoutSeconds: wholeNumber(10, 7200).default(600),
    },
    { error: "is required: at least app.repoUrl" },
  );

  const host = z.strictObject({
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

  // Cloudflare: tunnel, DNS, Access, rate limiting. Nothing is built, nor any Cloudflare code loaded, unless enabled.
  const cloudflareId = (what: string) =>
    z.string({ error: `must be the 32-character ${what} ID` }).regex(/^[0-9a-f]{32}$/, { error: `must be the 32-character hex ${what} ID from the Cloudflare dashboard` });
  const dnsName = (what: string) =>
    z
      .string({ error: `must be ${what}` })
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { error: `must be ${what} in lower case` });
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

  return z
    .strictObject({
      environment: z.enum(ENVIRONMENTS).optional(),
      providers: z.enum(PROVIDERS, { error: `must be one of ${PROVIDERS.join(", ")}` }).default("plugins"),
      server: server,
      app: app,
      host: host.prefault({}),
      monitor: monitor.prefault({}),
      cloudflare: cloudflare.prefault({}),
      backup: z.strictObject({ offsite: offsite.prefault({}) }).prefault({}),
    })
    .superRefine((config, ctx) => {
      if (environment === "production" && !config.server.hostKey) {
        ctx.addIssue({
          code: "custom",
          path: ["server", "hostKey"],
          message: "is required for production: pin the server's SSH host key so a deploy never talks to an impostor",
        });
      }
      const ssh = config.host.firewall.sshPort ?? config.server.port;
      if (config.host.firewall.denyPorts.includes(ssh)) {
        ctx.addIssue({
          code: "custom",
          path: ["host", "firewall", "denyPorts"],
          message: `must not include the SSH port ${ssh}: the firewall would lock you out`,
        });
      }
      // Each stack denies its own app port; a second stack managing the same rule would undo it on every run.
      for (const port of config.host.firewall.denyPorts) {
        const owner = ENVIRONMENTS.find((env) => (env === environment ? config.app.port : ENVIRONMENT_DEFAULTS[env].port) === port);
        if (owner) {
          ctx.addIssue({
            code: "custom",
            path: ["host", "firewall", "denyPorts"],
            message: `must not list ${port}, the ${owner} app port: the ${owner} stack denies it itself, and two stacks managing one rule would undo each other`,
          });
        }
      }
      if (config.app.port === ssh) {
        ctx.addIssue({ code: "custom", path: ["app", "port"], message: `must differ from the SSH port ${ssh}` });
      }
      checkWritablePaths(config.app, ctx);
      if (config.app.deployStrategy === "blue-green") checkBlueGreen(config.app, ctx);
      if (config.cloudflare.enabled) checkCloudflare(config.cloudflare, environment, ctx);
      checkOffsite(config.backup.offsite, config.monitor.enabled, ctx);
    })
    .transform(withDerivedDefaults);
}

/**
 * Defaults that depend on other settings, filled in after the checks (which must see what the
 * user set): the firewall's SSH port is the server's, the rate-limit rule's values and its
 * expression on the stack's hostname. Components get the result and have no defaults of their own.
 */
function withDerivedDefaults<
  T extends {
    server: { port: number };
    host: { firewall: { sshPort?: number } };
    cloudflare: { hostname?: string; rateLimit: { requestsPerPeriod?: number; periodSeconds?: number; mitigationTimeoutSeconds?: number; expression?: string } };
  },
>(config: T) {
  const { rateLimit, hostname } = config.cloudflare;
  return {
    ...config,
    host: { ...config.host, firewall: { ...config.host.firewall, sshPort: config.host.firewall.sshPort ?? config.server.port } },
    cloudflare: {
      ...config.cloudflare,
      rateLimit: {
        ...rateLimit,
        requestsPerPeriod: rateLimit.requestsPerPeriod ?? CLOUDFLARE_DEFAULTS.requestsPerPeriod,
        periodSeconds: rateLimit.periodSeconds ?? CLOUDFLARE_DEFAULTS.periodSeconds,
        mitigationTimeoutSeconds: rateLimit.mitigationTimeoutSeconds ?? CLOUDFLARE_DEFAULTS.mitigationTimeoutSeconds,
        expression: rateLimit.expression ?? `(http.host eq "${hostname ?? ""}")`,
      },
    },
  };
}

/** Directories the service may write outside installDir: app.writablePaths, or the app's tool dirs under AI_TOOLS_BASE. */
export function writablePathsOf(app: { installDir: string; writablePaths?: string[] }): string[] {
  return app.writablePaths ?? DEFAULT_TOOL_WRITABLE_PATHS.map((p) => `${aiToolsBaseOf(app.installDir)}/${p}`);
}

/** System trees a service must never get write access to. */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr"];

function checkWritablePaths(app: { installDir: string; writablePaths?: string[] }, ctx: z.RefinementCtx) {
  const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  (app.writablePaths ?? []).forEach((p, index) => {
    if (within(p, app.installDir) || within(app.installDir, p)) {
      ctx.addIssue({
        code: "custom",
        path: ["app", "writablePaths", index],
        message: `must lie outside app.installDir ${app.installDir}: paths the app writes inside it belong in app.sharedPaths`,
      });
    } else if (SYSTEM_TREES.some((tree) => within(p, tree))) {
      ctx.addIssue({ code: "custom", path: ["app", "writablePaths", index], message: `must not be in a system tree (${SYSTEM_TREES.join(", ")})` });
    }
  });
}

/** A unix socket path must fit sun_path (107 bytes and the terminating NUL). */
const MAX_SOCKET_PATH = 107;

/** Blue-green names its units <serviceName>@<color> and its sockets after serviceName and installDir. */
function checkBlueGreen(app: { serviceName: string; installDir: string; port: number; hostLoopbackPorts: number[] }, ctx: z.RefinementCtx) {
  const clash = app.hostLoopbackPorts.indexOf(app.port);
  if (clash >= 0) {
    ctx.addIssue({
      code: "custom",
      path: ["app", "hostLoopbackPorts", clash],
      message: `must not include app.port ${app.port}: inside a color's namespace the app itself listens there`,
    });
  }
  if (app.serviceName.includes("@")) {
    ctx.addIssue({
      code: "custom",
      path: ["app", "serviceName"],
      message: "must not contain @ with app.deployStrategy blue-green: the colors run as the template instances <serviceName>@blue and @green",
    });
  }
  const names = blueGreenNames(app.serviceName, app.installDir, ENV_DIR);
  const colorSocket = `${names.socketPrefix}green.sock`;
  if (colorSocket.length > MAX_SOCKET_PATH) {
    ctx.addIssue({ code: "custom", path: ["app", "serviceName"], message: `is too long for blue-green: the socket ${colorSocket} exceeds ${MAX_SOCKET_PATH} characters` });
  }
  if (names.servingLink.length > MAX_SOCKET_PATH) {
    ctx.addIssue({ code: "custom", path: ["app", "installDir"], message: `is too long for blue-green: the socket link ${names.servingLink} exceeds ${MAX_SOCKET_PATH} characters` });
  }
}

/** Whether a stack backs up off the server: a repository is set and enabled is not false. */
export function offsiteEnabled<T extends { enabled?: boolean; repository?: string }>(offsite: T): offsite is T & { repository: string } {
  return offsite.enabled !== false && offsite.repository !== undefined;
}

/** What an enabled off-host backup needs beyond each key's own format. */
function checkOffsite(
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
    issue("password", "is required for an off-host backup: restic encrypts the repository with it; keep a copy off this server (README: Disaster recovery)");
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

/** The SSH side of an sftp repository URL (both of restic's forms), or undefined when it names no user and host. */
export function sftpTarget(repository: string): { user: string; host: string; port: number } | undefined {
  const short = repository.match(/^sftp:([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(?!\/\/)./);
  if (short) return { user: short[1], host: short[2], port: 22 };
  const url = repository.match(/^sftp:\/\/([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?\/./);
  if (url) return { user: url[1], host: url[2], port: url[3] ? Number(url[3]) : 22 };
  return undefined;
}

/** What an enabled Cloudflare section needs beyond each key's own format. */
function checkCloudflare(
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

export type StackConfig = z.output<ReturnType<typeof configSchema>>;
