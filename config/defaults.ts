/**
 * The defaults that differ per environment (from the seed) and those several files use. Every
 * other default sits beside its setting in its section (sections/*.ts); docs/settings.md's settings
 * table lists them all, checked against the schema by test/unit/settings.test.ts.
 */
export const ENVIRONMENTS = ["production", "development"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/**
 * `restart`: switch `current`, restart the one unit, gate on health, roll back on failure.
 * `blue-green`: start the release beside the serving one (its own network namespace), gate it
 * through its own socket, move the front proxy to it, drain and stop the old one.
 */
export const DEPLOY_STRATEGIES = ["restart", "blue-green"] as const;
export type DeployStrategy = (typeof DEPLOY_STRATEGIES)[number];

/** A blue-green proxy serves its Prometheus metrics at app.port plus this, unless app.proxyMetricsPort says otherwise. */
export const PROXY_METRICS_PORT_OFFSET = 10;

/** Long enough for the app's longest requests (600 s generations) to finish on the old color. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 660;
/** Seconds a new release (or color) has to answer its health path. */
export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 60;

/**
 * Host services the app reaches on 127.0.0.1, mapped into each blue-green color's namespace:
 * Ollama, the GPU service, SwarmUI and ComfyUI.
 */
export const DEFAULT_HOST_LOOPBACK_PORTS = [11434, 17803, 7801, 7821];

/**
 * Off-host backups (restic): nightly at 02:30, keep every snapshot of the last 7 days (so a manual
 * run never forgets the day's earlier one: the one from before an accidental deletion), then 7
 * daily, 4 weekly, 12 monthly snapshots,
 * read back a 5% subset of the data once a week, and alert when the last good backup is older
 * than two nightly intervals.
 */
export const OFFSITE_DEFAULTS = {
  schedule: "*-*-* 02:30:00",
  keepWithinDays: 7,
  keepDaily: 7,
  keepWeekly: 4,
  keepMonthly: 12,
  checkSubset: "5%",
  checkEveryDays: 7,
  maxAgeHours: 48,
} as const;

/** The seed: check every 5 minutes, alert when down more than 2 minutes. */
export const MONITOR_DEFAULTS = { intervalSeconds: 300, alertAfterSeconds: 120, remindEveryHours: 24 } as const;

/**
 * Prometheus on the host (host.monitoring), off by default: a 15 s scrape keeps the probes' and the
 * node's few thousand series; two weeks of them take some hundred MB, well under the size cap.
 * The models a GPU service keeps loaded fill much of its memory by design: only the last 5% alert.
 */
export const MONITORING_DEFAULTS = {
  retentionTime: "14d",
  retentionSize: "1GB",
  scrapeIntervalSeconds: 15,
  diskFullPercent: 90,
  errorRatePercent: 5,
  gpuMemoryFullPercent: 95,
} as const;

export interface EnvironmentDefaults {
  readonly installDir: string;
  readonly branch: string;
  readonly port: number;
  readonly debug: boolean;
  readonly logLevel: string;
  /** Extra variables for the unit that the app reads. */
  readonly environment: Record<string, string>;
  /** Whether this stack owns the host-wide journald drop-in. */
  readonly manageJournald: boolean;
  /** How a deploy replaces the running app (see DEPLOY_STRATEGIES). */
  readonly deployStrategy: DeployStrategy;
  /** Seconds a new release is watched after the switch, the previous one kept ready (0: no window). */
  readonly stableSeconds: number;
}

export const ENVIRONMENT_DEFAULTS: Record<EnvironmentName, EnvironmentDefaults> = {
  production: {
    installDir: "/opt/ai4artsed-production",
    branch: "main",
    port: 17801,
    debug: false,
    logLevel: "INFO",
    environment: { DISABLE_API_CACHE: "false" },
    manageJournald: true,
    deployStrategy: "blue-green",
    // Long enough for a crash on the first requests, a background thread that dies, or memory
    // that runs out in the first minute; an operator waits this long at most once per deploy.
    stableSeconds: 120,
  },
  development: {
    installDir: "/opt/ai4artsed-development",
    branch: "develop",
    port: 17802,
    debug: true,
    logLevel: "DEBUG",
    environment: {},
    manageJournald: false,
    deployStrategy: "restart",
    // Development deploys are for trying things out: no wait.
    stableSeconds: 0,
  },
};

/** Paths the app writes or keeps across deploys; a trailing slash marks a directory. */
export const DEFAULT_SHARED_PATHS = [
  "exports/",
  "devserver/api_keys.json",
  "devserver/user_settings.json",
  "devserver/setup_aws_env.sh",
  "devserver/settings_password.key",
  "devserver/openrouter.key",
  "devserver/anthropic.key",
  "devserver/openai.key",
  "devserver/mistral.key",
  "devserver/hardware_matrix.json",
];

/**
 * Debian packages the app loads at run time (runtime libraries, no -dev packages): WeasyPrint's
 * Pango and HarfBuzz (GObject comes with Pango), cairo and gdk-pixbuf, which the app's requirements.txt names in
 * its header as build packages, and a font so PDF exports have one to render with.
 */
export const DEFAULT_SYSTEM_PACKAGES = [
  "libpango-1.0-0",
  "libpangoft2-1.0-0",
  "libpangocairo-1.0-0",
  "libharfbuzz0b",
  "libharfbuzz-subset0",
  "libcairo2",
  "libgdk-pixbuf-2.0-0",
  "fontconfig",
  "fonts-dejavu-core",
];

/**
 * Directories outside the install dir that the app writes, relative to AI_TOOLS_BASE (the install
 * dir's parent): its LoRA training service creates kohya_ss's dataset and log dirs and the LoRA
 * output dir at import.
 */
export const DEFAULT_TOOL_WRITABLE_PATHS = ["kohya_ss_new/dataset", "kohya_ss_new/logs", "SwarmUI/Models/loras"];

/**
 * Free space a build needs on the install dir's filesystem: room for a new PyTorch and CUDA wheel
 * set (the real app's: about 4-6 GB unpacked into uv's cache) beside the serving venv.
 */
export const DEFAULT_MIN_FREE_DISK_MB = 6144;

/**
 * The app's extra services (app.services.<name>): run as `python server.py` in their directory
 * (as the real GPU service is), gated on `/api/health` for up to two minutes (models load lazily,
 * so a start is quick), owned by production.
 */
export const SERVICE_DEFAULTS = { portVariable: "PORT", command: "python server.py", healthTimeoutSeconds: 120, owner: "production" as EnvironmentName } as const;
export const DEFAULT_SERVICE_HEALTH_PATH = "/api/health";
/** `auto`: the unit may use NVIDIA and render devices when the host has them; `none`: no devices at all. */
export const GPU_MODES = ["auto", "none"] as const;

/** `GET /api/schema/info` answers JSON with status success on the real app; `/api/health` does not exist. */
export const DEFAULT_HEALTH_PATH = "/api/schema/info";

/**
 * Cloudflare defaults. Only production has a hostname of its own; a development hostname must sit
 * one level below the zone (e.g. lab-dev.ai4artsed.org), where Universal SSL covers it.
 * Rate limiting: a zone holds one http_ratelimit entry-point ruleset, so exactly one stack owns it.
 */
export const CLOUDFLARE_DEFAULTS = {
  hostname: { production: "lab.ai4artsed.org" } as Partial<Record<EnvironmentName, string>>,
  rateLimitOwner: "production" as EnvironmentName,
  countries: ["DE"],
  sessionDuration: "24h",
  requestsPerPeriod: 100,
  periodSeconds: 60,
  mitigationTimeoutSeconds: 600,
  packageSource: "cloudflare-apt",
  binaryPath: "/usr/bin/cloudflared",
  aptRepository: "https://pkg.cloudflare.com/cloudflared",
  aptKeyUrl: "https://pkg.cloudflare.com/cloudflare-main.gpg",
} as const;

/**
 * The monitoring dashboards' hostname (host.monitoring.hostname) when Cloudflare and the monitoring
 * are both on: beside the app's, one level below the zone, where Universal SSL covers it
 * (lab.ai4artsed.org -> lab-monitoring.ai4artsed.org; monitoring.lab.ai4artsed.org would get no certificate).
 */
export function defaultDashboardsHostname(appHostname: string): string {
  const [first, ...zone] = appHostname.split(".");
  return [`${first}-monitoring`, ...zone].join(".");
}
