import { z } from "zod";
import { ENVIRONMENTS, EnvironmentName } from "./defaults";
import { ConfigError } from "../lib/errors";
import { configSchema, EXAMPLE_PATHS, EXAMPLES, LIST_SETTINGS, SERVICE_EXAMPLES, StackConfig } from "./schema";

export { ConfigError };

export const PROJECT = "ai4artsed";
export const CONFIG_SECTIONS = ["environment", "providers", "server", "app", "host", "monitor", "cloudflare", "backup"] as const;

/** Raw values as Pulumi hands them over: one entry per top-level key of the project namespace. */
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];
export type RawConfig = Partial<Record<ConfigSection, unknown>>;

export interface ValidConfig {
  readonly environment: EnvironmentName;
  readonly config: StackConfig;
}

function describeInput(input: unknown): string {
  if (input === undefined) return "not set";
  if (typeof input === "object") return "got an object";
  const text = String(input);
  return `got ${JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)}`;
}

/** The example for a path; array and record entries share their parent's example, an extra service's settings their own. */
function exampleFor(path: string): string | undefined {
  const service = path.match(/^app\.services\.[^.]+\.([A-Za-z]+)/);
  if (service) return SERVICE_EXAMPLES[service[1]];
  const parent = path.replace(/\[\d+\]$/, "").replace(/^(app\.(environment|secrets)|backup\.offsite\.credentials|host\.monitoring\.(probes|proxies))\..*$/, "$1");
  return EXAMPLES[path] ?? EXAMPLES[parent];
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), "");
}

/** A missing section is fixed by setting its first required key. */
const SECTION_FIRST_KEY: Record<string, string> = { server: "server.address", app: "app.repoUrl" };

function formatIssue(issue: z.core.$ZodIssue, stack: string): string[] {
  const base = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const path = base ? `${base}.${key}` : key;
      return `${PROJECT}:${path}: unknown setting; remove it with 'pulumi config rm --path ${path} -s ${stack}' (known settings are listed in docs/settings.md)`;
    });
  }
  if (issue.code === "invalid_key") {
    const reason = issue.issues[0]?.message ?? issue.message;
    return [`${PROJECT}:${base}: ${reason}; remove it with 'pulumi config rm --path ${base} -s ${stack}'`];
  }
  const input = "input" in issue ? describeInput(issue.input) : "";
  const key = SECTION_FIRST_KEY[base] ?? base;
  const example = exampleFor(key);
  const setKey = LIST_SETTINGS.has(key) ? `${key}[0]` : (EXAMPLE_PATHS[key] ?? key);
  const fix = example ? ` Example: pulumi config set --path ${setKey} ${example} -s ${stack}` : "";
  const got = input && issue.code !== "custom" ? ` (${input})` : "";
  return [`${PROJECT}:${base}: ${issue.message}${got}.${fix}`];
}

/**
 * A stack's raw config, section by section: `read` gives a section's value (undefined when
 * unset), `isSecret` whether it is stored as a secret. The program reads through Pulumi's Config,
 * the operators' helpers through `pulumi config --json`.
 */
export function readRawConfig(read: (section: ConfigSection) => unknown, isSecret: (section: ConfigSection) => boolean): { raw: RawConfig; secretSections: Set<string> } {
  const raw: RawConfig = {};
  const secretSections = new Set<string>();
  for (const section of CONFIG_SECTIONS) {
    const value = read(section);
    if (value !== undefined) raw[section] = value;
    if (isSecret(section)) secretSections.add(section);
  }
  return { raw, secretSections };
}

/** The environment a stack is: its `environment` setting, else its name. */
export function environmentOf(stack: string, raw: RawConfig): EnvironmentName {
  const named = raw.environment ?? stack;
  if ((ENVIRONMENTS as readonly unknown[]).includes(named)) return named as EnvironmentName;
  throw new ConfigError(stack, [
    `${PROJECT}:environment: stack '${stack}' is neither ${ENVIRONMENTS.join(" nor ")}; say which defaults it takes. Example: pulumi config set environment development -s ${stack}`,
  ]);
}

/**
 * Validate a stack's raw config. `secretSections` names the top-level keys stored as secrets,
 * so a private key or app secret left in plain text is refused before it lands in state.
 */
export function parseStackConfig(stack: string, raw: RawConfig, secretSections: ReadonlySet<string>): ValidConfig {
  const environment = environmentOf(stack, raw);
  const result = configSchema(environment).safeParse(raw, { reportInput: true });
  const problems = result.success ? [] : result.error.issues.flatMap((issue) => formatIssue(issue, stack));
  const rawServer = raw.server as { privateKey?: unknown } | undefined;
  if (rawServer?.privateKey !== undefined && !secretSections.has("server")) {
    problems.push(
      `${PROJECT}:server.privateKey: is stored in plain text in Pulumi.${stack}.yaml. Store it as a secret: pulumi config set --path --secret server.privateKey -- "$(cat ~/.ssh/ai4artsed_deploy)" -s ${stack}`,
    );
  }
  const rawApp = raw.app as { secrets?: Record<string, unknown>; services?: Record<string, { secrets?: Record<string, unknown> }> } | undefined;
  if (rawApp?.secrets && Object.keys(rawApp.secrets).length > 0 && !secretSections.has("app")) {
    problems.push(
      `${PROJECT}:app.secrets: values are stored in plain text in Pulumi.${stack}.yaml. Set each with --secret: pulumi config set --path --secret app.secrets.OPENROUTER_API_KEY <key> -s ${stack}`,
    );
  }
  if ((raw.app as { secretKey?: unknown } | undefined)?.secretKey !== undefined && !secretSections.has("app")) {
    problems.push(
      `${PROJECT}:app.secretKey: is stored in plain text in Pulumi.${stack}.yaml. Store it as a secret: pulumi config set --path --secret app.secretKey -- "$(openssl rand -hex 32)" -s ${stack}`,
    );
  }
  for (const [name, service] of Object.entries(rawApp?.services ?? {})) {
    if (service?.secrets && typeof service.secrets === "object" && Object.keys(service.secrets).length > 0 && !secretSections.has("app")) {
      problems.push(
        `${PROJECT}:app.services.${name}.secrets: values are stored in plain text in Pulumi.${stack}.yaml. Set each with --secret: pulumi config set --path --secret app.services.${name}.secrets.HF_TOKEN <token> -s ${stack}`,
      );
    }
  }
  const rawCloudflare = raw.cloudflare as { apiToken?: unknown } | undefined;
  if (rawCloudflare?.apiToken !== undefined && !secretSections.has("cloudflare")) {
    problems.push(
      `${PROJECT}:cloudflare.apiToken: is stored in plain text in Pulumi.${stack}.yaml. Store it as a secret: pulumi config set --path --secret cloudflare.apiToken -- "$CLOUDFLARE_API_TOKEN" -s ${stack}`,
    );
  }
  const rawMonitor = raw.monitor as { webhookUrl?: unknown } | undefined;
  if (rawMonitor?.webhookUrl !== undefined && !secretSections.has("monitor")) {
    problems.push(
      `${PROJECT}:monitor.webhookUrl: is stored in plain text in Pulumi.${stack}.yaml (a webhook URL is a credential). Store it as a secret: pulumi config set --path --secret monitor.webhookUrl -- "https://hooks.example.org/services/T000/B000/XXXX" -s ${stack}`,
    );
  }
  const rawOffsite = (raw.backup as { offsite?: Record<string, unknown> } | undefined)?.offsite ?? {};
  for (const key of ["password", "sshKey", "credentials"]) {
    const value = rawOffsite[key];
    const set = key === "credentials" ? typeof value === "object" && value !== null && Object.keys(value).length > 0 : value !== undefined;
    if (set && !secretSections.has("backup")) {
      const example = key === "credentials" ? ".AWS_SECRET_ACCESS_KEY <value>" : ` ${EXAMPLES[`backup.offsite.${key}`].replace(/^--secret /, "")}`;
      problems.push(
        `${PROJECT}:backup.offsite.${key}: is stored in plain text in Pulumi.${stack}.yaml. Store it as a secret: pulumi config set --path --secret backup.offsite.${key}${example} -s ${stack}`,
      );
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(stack, problems);
  return { environment, config: result.data };
}
