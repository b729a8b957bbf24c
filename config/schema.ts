import { z } from "zod";
import { CLOUDFLARE_DEFAULTS, DEFAULT_HEALTH_PATH, defaultDashboardsHostname, ENVIRONMENT_DEFAULTS, ENVIRONMENTS, EnvironmentName } from "./defaults";
import { appSettings, checkBlueGreen, checkWritablePaths, proxyMetricsPortOf } from "./sections/app";
import { checkServices } from "./sections/services";
import { checkOffsite, offsiteInEffect, offsiteSettings } from "./sections/backup";
import { checkCloudflare, cloudflareSettings } from "./sections/cloudflare";
import { checkDashboardsHostname, hostSettings } from "./sections/host";
import { monitorSettings } from "./sections/monitor";
import { serverSettings } from "./sections/server";

// What the rest of the program reads from here, wherever it is defined.
export { EXAMPLE_PATHS, EXAMPLES, LIST_SETTINGS, SERVICE_EXAMPLES } from "./examples";
export { RESERVED_ENVIRONMENT_KEYS } from "./values";
export { writablePathsOf } from "./sections/app";
import { writablePathsOf } from "./sections/app";

/**
 * How remote steps and generated secrets run: `plugins` through the command and random
 * provider plugins (what `pulumi up` downloads); `builtin` through this program's own dynamic
 * providers, for machines that cannot install those plugins.
 */
export const PROVIDERS = ["plugins", "builtin"] as const;

/** The schema for one environment; defaults differ between production and development. */
export function configSchema(environment: EnvironmentName) {
  const server = serverSettings();
  const app = appSettings(environment);
  const host = hostSettings(environment);
  const monitor = monitorSettings();
  const offsite = offsiteSettings();
  const cloudflare = cloudflareSettings(environment);

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
      checkWritablePaths(config.app, config.app.writablePaths, ["app", "writablePaths"], ctx);
      checkServices(config.app, ssh, ctx);
      if (config.app.deployStrategy === "blue-green") checkBlueGreen(config.app, ctx);
      if (config.cloudflare.enabled) checkCloudflare(config.cloudflare, environment, ctx);
      checkDashboardsHostname(config.host.monitoring, config.cloudflare, ctx);
      checkOffsite(config.backup.offsite, config.monitor.enabled, ctx);
    })
    .transform((config) => withDerivedDefaults(config, environment));
}

/**
 * Defaults that depend on other settings, filled in after the checks (which must see what the
 * user set): the firewall's SSH port is the server's, the service's writable paths the app's tool
 * dirs, the unit's environment the environment's defaults under the user's, the rate-limit rule's
 * values and its expression on the stack's hostname, the off-host backup's enabled as it takes
 * effect, Prometheus' probe and install dir of each environment (this stack's from its app settings), the dashboards' hostname beside the app's. Components get the result and have no defaults of their own.
 */
function withDerivedDefaults<
  T extends {
    server: { port: number };
    app: {
      installDir: string;
      port: number;
      proxyMetricsPort?: number;
      deployStrategy: string;
      healthPath: string;
      writablePaths?: string[];
      environment: Record<string, string>;
      hostLoopbackPorts: number[];
      services: Record<string, { owner: EnvironmentName; port: number }>;
    };
    host: { firewall: { sshPort?: number }; monitoring: { enabled: boolean; hostname?: string; probes: Partial<Record<EnvironmentName, string>>; proxies: Partial<Record<EnvironmentName, string>> } };
    cloudflare: { enabled: boolean; hostname?: string; rateLimit: { requestsPerPeriod?: number; periodSeconds?: number; mitigationTimeoutSeconds?: number; expression?: string } };
    backup: { offsite: { enabled?: boolean; repository?: string } };
  },
>(config: T, environment: EnvironmentName) {
  const { rateLimit, hostname } = config.cloudflare;
  return {
    ...config,
    app: {
      ...config.app,
      writablePaths: writablePathsOf(config.app),
      proxyMetricsPort: proxyMetricsPortOf(config.app),
      environment: { ...ENVIRONMENT_DEFAULTS[environment].environment, ...config.app.environment },
      // Both environments' colors reach every extra service on the host's loopback.
      hostLoopbackPorts: [...new Set([...config.app.hostLoopbackPorts, ...Object.values(config.app.services).map((service) => service.port)])],
      services: Object.fromEntries(
        Object.entries(config.app.services).map(([name, service]) => [name, { ...service, owned: service.owner === environment }]),
      ) as { [name: string]: T["app"]["services"][string] & { owned: boolean } },
    },
    host: {
      ...config.host,
      firewall: { ...config.host.firewall, sshPort: config.host.firewall.sshPort ?? config.server.port },
      monitoring: {
        ...config.host.monitoring,
        probes: monitoringProbes(config, environment),
        // The dashboards' hostname only where the tunnel serves it: this stack runs the monitoring and Cloudflare.
        hostname:
          config.host.monitoring.enabled && config.cloudflare.enabled && hostname !== undefined
            ? (config.host.monitoring.hostname ?? defaultDashboardsHostname(hostname))
            : undefined,
        proxies: monitoringProxies(config, environment),
        // Where each environment's revisions.log is: this stack's install dir, the other's default one.
        installDirs: Object.fromEntries(ENVIRONMENTS.map((env) => [env, env === environment ? config.app.installDir : ENVIRONMENT_DEFAULTS[env].installDir])) as Record<EnvironmentName, string>,
      },
    },
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
    backup: { ...config.backup, offsite: offsiteInEffect(config.backup.offsite) },
  };
}

/** The health URL Prometheus probes for each environment: a set one, else this stack's own, else the other's defaults. */
function monitoringProbes(
  config: { app: { port: number; healthPath: string }; host: { monitoring: { probes: Partial<Record<EnvironmentName, string>> } } },
  environment: EnvironmentName,
): Record<EnvironmentName, string> {
  const local = (port: number, healthPath: string) => `http://127.0.0.1:${port}${healthPath}`;
  return Object.fromEntries(
    ENVIRONMENTS.map((env) => [
      env,
      config.host.monitoring.probes[env] ?? (env === environment ? local(config.app.port, config.app.healthPath) : local(ENVIRONMENT_DEFAULTS[env].port, DEFAULT_HEALTH_PATH)),
    ]),
  ) as Record<EnvironmentName, string>;
}

/**
 * Where Prometheus scrapes each environment's proxy: a set one, else this stack's own when it runs
 * blue-green, else the other's defaults; absent for an environment without a proxy.
 */
function monitoringProxies(
  config: { app: { port: number; proxyMetricsPort?: number; deployStrategy: string }; host: { monitoring: { proxies: Partial<Record<EnvironmentName, string>> } } },
  environment: EnvironmentName,
): Partial<Record<EnvironmentName, string>> {
  const of = (env: EnvironmentName): string | undefined => {
    const set = config.host.monitoring.proxies[env];
    if (set !== undefined) return set === "none" ? undefined : set;
    const app = env === environment ? config.app : ENVIRONMENT_DEFAULTS[env];
    return app.deployStrategy === "blue-green" ? `127.0.0.1:${proxyMetricsPortOf(app)}` : undefined;
  };
  return Object.fromEntries(
    ENVIRONMENTS.flatMap((env) => {
      const target = of(env);
      return target ? [[env, target]] : [];
    }),
  ) as Partial<Record<EnvironmentName, string>>;
}

export type StackConfig = z.output<ReturnType<typeof configSchema>>;
