import { z } from "zod";
import { DEFAULT_SERVICE_HEALTH_PATH, ENVIRONMENTS, GPU_MODES, SERVICE_DEFAULTS } from "../defaults";
import { absolutePath, ENV_NAME, noNewline, relativePath, variableMap, wholeNumber } from "../values";
import { checkWritablePaths } from "./app";

/**
 * Names a service may not take: every step of a stack is named `<environment>-<part>-...`, and a
 * service's steps `<environment>-<service>-...`, so a service named after a part would share its
 * steps' names.
 */
const RESERVED_SERVICE_NAMES = ["host", "python", "frontend", "release", "service", "secret-key", "monitor", "offsite-backup", "firewall", "journald", "cloudflare"];

/** A service's name: the key under app.services; its unit is ai4artsed-<name>. */
export const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,29}[a-z0-9]$/, { error: "keys must be short names of lower-case letters, digits and - (the unit is ai4artsed-<name>)" })
  .refine((name) => !RESERVED_SERVICE_NAMES.some((reserved) => name === reserved || name.startsWith(`${reserved}-`)), {
    error: `keys must not be, or start with, a part of the stack (${RESERVED_SERVICE_NAMES.join(", ")})`,
  });

/**
 * One of the app's own extra services (app.services.<name>): a second server of the app's
 * repository that both environments use, such as the GPU service. One stack owns it and runs it
 * from its release and venv; the others only reach it on 127.0.0.1.
 */
export function serviceSettings() {
  return z.strictObject({
    directory: relativePath,
    port: wholeNumber(1024, 65535),
    // The variable the service reads its port from; the program sets it to `port`.
    portVariable: z.string().regex(ENV_NAME, { error: "must be an environment variable name" }).default(SERVICE_DEFAULTS.portVariable),
    // A program of the venv (python, waitress-serve, ...) and its arguments, run in `directory`.
    command: noNewline("a program of the venv and its arguments")
      .refine((command) => /^[A-Za-z0-9_.+-]+( [^\s$%`"'\\;|&<>]+)*$/.test(command), {
        error: "must be a program of the venv and plain arguments, e.g. python server.py (no quotes, $, %, ; | & < >)",
      })
      .default(SERVICE_DEFAULTS.command),
    healthPath: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\/?=&%-]*$/, { error: "must be a URL path starting with /" })
      .default(DEFAULT_SERVICE_HEALTH_PATH),
    healthTimeoutSeconds: wholeNumber(5, 1800).default(SERVICE_DEFAULTS.healthTimeoutSeconds),
    owner: z.enum(ENVIRONMENTS, { error: `must be one of ${ENVIRONMENTS.join(", ")}` }).default(SERVICE_DEFAULTS.owner),
    gpu: z.enum(GPU_MODES, { error: `must be one of ${GPU_MODES.join(", ")}` }).default("auto"),
    environment: variableMap("an environment value"),
    secrets: variableMap("a secret value"),
    writablePaths: z.array(absolutePath).default([]),
  });
}

export function servicesSettings() {
  return z.record(serviceName, serviceSettings()).default({});
}

/** Each extra service's port is its own, its port variable set by the program, its writable paths allowed. */
export function checkServices(
  app: { installDir: string; port: number; services: Record<string, { port: number; portVariable: string; environment: Record<string, string>; writablePaths: string[] }> },
  sshPort: number,
  ctx: z.RefinementCtx,
) {
  const taken = new Map<number, string>([
    [app.port, "app.port"],
    [sshPort, "the SSH port"],
  ]);
  for (const [name, service] of Object.entries(app.services)) {
    const at = ["app", "services", name];
    const other = taken.get(service.port);
    if (other) ctx.addIssue({ code: "custom", path: [...at, "port"], message: `must differ from ${other} (${service.port})` });
    taken.set(service.port, `app.services.${name}.port`);
    if (service.portVariable in service.environment) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "environment", service.portVariable],
        message: `is the service's portVariable: the program sets it to app.services.${name}.port; remove it`,
      });
    }
    checkWritablePaths(app, service.writablePaths, [...at, "writablePaths"], ctx);
  }
}
