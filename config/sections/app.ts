import { z } from "zod";
import { aiToolsBaseOf, blueGreenNames, ENV_DIR } from "../../lib/paths";
import {
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  DEFAULT_HEALTH_TIMEOUT_SECONDS,
  DEFAULT_HEALTH_PATH,
  DEFAULT_HOST_LOOPBACK_PORTS,
  DEFAULT_SHARED_PATHS,
  DEFAULT_SYSTEM_PACKAGES,
  DEFAULT_TOOL_WRITABLE_PATHS,
  DEPLOY_STRATEGIES,
  ENVIRONMENT_DEFAULTS,
  EnvironmentName,
  PROXY_METRICS_PORT_OFFSET,
} from "../defaults";
import { absolutePath, bool, noNewline, relativePath, variableMap, wholeNumber } from "../values";
import { servicesSettings } from "./services";

/** app.*: the app, its release and its service; defaults per environment. */
export function appSettings(environment: EnvironmentName) {
  const seed = ENVIRONMENT_DEFAULTS[environment];
  const serviceName = `ai4artsed-${environment}`;
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
    healthTimeoutSeconds: wholeNumber(5, 900).default(DEFAULT_HEALTH_TIMEOUT_SECONDS),
    // After the switch, the new release must stay healthy this long or traffic goes back to the previous one.
    stableSeconds: wholeNumber(0, 3600).default(seed.stableSeconds),
    // Probes in a row (one a second) that must fail inside the window before it reverts: one slow answer under load is no crash.
    watchFailedProbes: wholeNumber(1, 60).default(3),
    keepReleases: wholeNumber(2, 50).default(5),
    deployStrategy: z
      .enum(DEPLOY_STRATEGIES, { error: `must be one of ${DEPLOY_STRATEGIES.join(", ")}` })
      .default(seed.deployStrategy),
    drainTimeoutSeconds: wholeNumber(0, 3600).default(DEFAULT_DRAIN_TIMEOUT_SECONDS),
    // Blue-green: the proxy's own Prometheus metrics (requests, errors, latency), on 127.0.0.1.
    proxyMetricsPort: wholeNumber(1024, 65535).optional(),
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
    // The app's SECRET_KEY (it signs the app's sessions); unset: one made on the first deploy and kept in the state.
    secretKey: noNewline("the app's SECRET_KEY")
      .refine((v) => v.length >= 32, { error: "must be at least 32 characters (the app's SECRET_KEY)" })
      .optional(),
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
    // The app's own extra services (the GPU service), by name; one stack owns each and runs it.
    services: servicesSettings(),
    },
    { error: "is required: at least app.repoUrl" },
  );
  return app;
}

/** Directories the service may write outside installDir: app.writablePaths, or the app's tool dirs under AI_TOOLS_BASE. */
export function writablePathsOf(app: { installDir: string; writablePaths?: string[] }): string[] {
  return app.writablePaths ?? DEFAULT_TOOL_WRITABLE_PATHS.map((p) => `${aiToolsBaseOf(app.installDir)}/${p}`);
}

/** System trees a service must never get write access to. */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr"];

/** Writable paths (the app's, or an extra service's at `at`) lie outside installDir and the system trees. */
export function checkWritablePaths(
  app: { installDir: string },
  paths: readonly string[] | undefined,
  at: readonly (string | number)[],
  ctx: z.RefinementCtx,
) {
  const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  (paths ?? []).forEach((p, index) => {
    if (within(p, app.installDir) || within(app.installDir, p)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, index],
        message: `must lie outside app.installDir ${app.installDir}: paths the app writes inside it belong in app.sharedPaths`,
      });
    } else if (SYSTEM_TREES.some((tree) => within(p, tree))) {
      ctx.addIssue({ code: "custom", path: [...at, index], message: `must not be in a system tree (${SYSTEM_TREES.join(", ")})` });
    }
  });
}

/** Where a blue-green stack's proxy serves its metrics: the set port, else app.port + PROXY_METRICS_PORT_OFFSET. */
export function proxyMetricsPortOf(app: { port: number; proxyMetricsPort?: number }): number {
  return app.proxyMetricsPort ?? app.port + PROXY_METRICS_PORT_OFFSET;
}

/** A unix socket path must fit sun_path (107 bytes and the terminating NUL). */
const MAX_SOCKET_PATH = 107;

/** Blue-green names its units <serviceName>@<color> and its sockets after serviceName and installDir. */
export function checkBlueGreen(
  app: { serviceName: string; installDir: string; port: number; proxyMetricsPort?: number; hostLoopbackPorts: number[]; services: Record<string, { port: number }> },
  ctx: z.RefinementCtx,
) {
  const clash = app.hostLoopbackPorts.indexOf(app.port);
  if (clash >= 0) {
    ctx.addIssue({
      code: "custom",
      path: ["app", "hostLoopbackPorts", clash],
      message: `must not include app.port ${app.port}: inside a color's namespace the app itself listens there`,
    });
  }
  const metricsPort = proxyMetricsPortOf(app);
  const taken = [
    ["app.port", app.port],
    ...app.hostLoopbackPorts.map((port) => ["app.hostLoopbackPorts", port]),
    ...Object.entries(app.services).map(([name, service]) => [`app.services.${name}.port`, service.port]),
  ].find(([, port]) => port === metricsPort);
  if (taken || metricsPort > 65535) {
    ctx.addIssue({
      code: "custom",
      path: ["app", "proxyMetricsPort"],
      message: `${taken ? `must differ from ${taken[0]} (${taken[1]})` : `is needed: app.port + ${PROXY_METRICS_PORT_OFFSET} is no port`}: the proxy serves its metrics there; set a free port`,
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
