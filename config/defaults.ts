/** Per-environment defaults from the seed; every other default lives in the schema. */
export const ENVIRONMENTS = ["production", "development"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

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
  },
  development: {
    installDir: "/opt/ai4artsed-development",
    branch: "develop",
    port: 17802,
    debug: true,
    logLevel: "DEBUG",
    environment: {},
    manageJournald: false,
  },
};

/** Paths the app writes or keeps across deploys; a trailing slash marks a directory. */
export const DEFAULT_SHARED_PATHS = [
  "exports/",
  "devserver/api_keys.json",
  "devserver/user_settings.json",
  "devserver/setup_aws_env.sh",
  "devserver/settings_password.key",
  "devserver/hardware_matrix.json",
];

/** `GET /api/schema/info` answers JSON with status success on the real app; `/api/health` does not exist. */
export const DEFAULT_HEALTH_PATH = "/api/schema/info";
