/**
 * The settings that make a deployed stack what it is on its server. Changing one of them on a
 * deployed stack would not move the environment but tear it down or split it:
 * - `environment` names every step and `providers` picks every step's type, so a change
 *   replaces each step, and a replace runs the old step's delete (layout, unit and firewall
 *   removal) after its twin was created, with a new SECRET_KEY;
 * - `app.installDir`, `app.serviceName` and `app.serviceUser` change only the steps' parameters:
 *   the old units keep running and hold the port, and a new shared/ starts empty (no exports)
 *   or owned by another user.
 * So the server keeps a record of what the stack last deployed with (host-layout writes it,
 * destroy removes it), the program reads every stack's record first in its SSH session
 * (stack-identity.sh, which only prints them), and the comparison here stops the run before
 * anything that changes the server is sent. The record lives on the server, not in the
 * operator's state, because the server is what a change would break, and it is what tells a
 * stack that deployed there from one that never did.
 */
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { ENV_DIR } from "../../lib/paths";

export const IDENTITY_SETTINGS = ["environment", "providers", "app.installDir", "app.serviceName", "app.serviceUser"] as const;
export type IdentitySetting = (typeof IDENTITY_SETTINGS)[number];

/**
 * What no other stack on the server may use too: its install dir (releases and shared/ would
 * be overwritten), its unit name, its port, and the host's monitoring (one stack runs it). The
 * port and the monitoring may change on the stack itself, so they are in the record as claims
 * only, not as part of the identity.
 */
export const CLAIM_SETTINGS = ["app.installDir", "app.serviceName", "app.port", "host.monitoring.enabled"] as const;
export type ClaimSetting = (typeof CLAIM_SETTINGS)[number];

/** The settings a stack's record on the server keeps: its identity, then its claims. */
const RECORD_SETTINGS = [...IDENTITY_SETTINGS, "app.port", "host.monitoring.enabled"] as const;
/** The monitoring's line is there only while the stack runs it, so the records of the stacks that do not stay as they were. */
export type StackRecord = Record<Exclude<(typeof RECORD_SETTINGS)[number], "host.monitoring.enabled">, string> & { "host.monitoring.enabled"?: "true" };

/** Where the server keeps a stack's record; one file per stack name, which no setting changes. */
export function identityRecordOf(stack: string): string {
  return `${ENV_DIR}/${stack}.stack`;
}

export function recordOf(environment: EnvironmentName, config: StackConfig): StackRecord {
  return {
    environment,
    providers: config.providers,
    "app.installDir": config.app.installDir,
    "app.serviceName": config.app.serviceName,
    "app.serviceUser": config.app.serviceUser,
    "app.port": String(config.app.port),
    ...(config.host.monitoring.enabled ? { "host.monitoring.enabled": "true" as const } : {}),
  };
}

/** The record as host-layout writes it: one `setting=value` line each, in a fixed order. */
export function renderRecord(record: StackRecord): string {
  return RECORD_SETTINGS.filter((key) => record[key] !== undefined)
    .map((key) => `${key}=${record[key]}\n`)
    .join("");
}

export function parseRecord(text: string): Partial<StackRecord> {
  const values: Partial<StackRecord> = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^([A-Za-z.]+)=(.*)$/);
    if (match && (RECORD_SETTINGS as readonly string[]).includes(match[1])) (values as Record<string, string>)[match[1]] = match[2];
  }
  return values;
}

/** The records stack-identity.sh printed, by stack name (its `stack:<name>` sections). */
export function stackRecords(observation: ReadonlyMap<string, string>): Map<string, Partial<StackRecord>> {
  return new Map(
    [...observation].filter(([section]) => section.startsWith("stack:")).map(([section, text]) => [section.slice("stack:".length), parseRecord(text)]),
  );
}

/** What a change of each setting would do, and the way that keeps the users' data. */
function procedure(key: IdentitySetting, stack: string, was: string): string {
  const setBack = key === "environment" || key === "providers" ? `pulumi config set ${key} ${was} -s ${stack}` : `pulumi config set --path ${key} ${was} -s ${stack}`;
  const moveShared =
    key === "app.installDir"
      ? `, move ${was}/shared to the new directory on the server (mv keeps owners and modes)`
      : key === "app.serviceUser"
        ? ", give the stack's shared/ to the new user on the server (chown -R <user>: <installDir>/shared)"
        : "";
  return (
    `set it back with '${setBack}'. To change it: 'pulumi destroy -s ${stack}' (stops the app; keeps shared/, backups/ and the pupils' exports)` +
    `${moveShared}, then 'pulumi up -s ${stack}'`
  );
}

/**
 * The problems of a config against the server's records: one per identity setting that differs
 * from this stack's own record (none when it has none: its first deploy there, or after a
 * destroy), and one per install dir, unit name or port another stack's record claims too.
 */
export function recordProblems(stack: string, server: string, wanted: StackRecord, records: ReadonlyMap<string, Partial<StackRecord>>): string[] {
  const own = records.get(stack);
  const changed = IDENTITY_SETTINGS.filter((key) => own?.[key] !== undefined && own[key] !== wanted[key]).map(
    (key) =>
      `ai4artsed:${key}: is ${JSON.stringify(wanted[key])}, but this stack is deployed on ${server} with ${JSON.stringify(own![key])} (${identityRecordOf(stack)}). ` +
      `Changing it on a deployed stack would ${key === "environment" || key === "providers" ? "replace every step, and the replaced steps' deletes would tear the environment down" : "leave the old app running on its port and start a new one without the pupils' data"}; ` +
      `${procedure(key, stack, own![key]!)}.`,
  );
  const claimed = [...records]
    .filter(([other]) => other !== stack)
    .flatMap(([other, record]) => CLAIM_SETTINGS.filter((key) => wanted[key] !== undefined && record[key] === wanted[key]).map((key) => ({ other, key })))
    .map(({ other, key }) =>
      key === "host.monitoring.enabled"
        ? `ai4artsed:host.monitoring.enabled: stack '${other}' runs the monitoring on ${server} (${identityRecordOf(other)}), and one stack per host does, ` +
          `for both environments; two would overwrite each other's Prometheus. Turn it off here ('pulumi config set --path host.monitoring.enabled false -s ${stack}'), ` +
          `or off there first ('pulumi config set --path host.monitoring.enabled false -s ${other}' and 'pulumi up -s ${other}').`
        : `ai4artsed:${key}: ${JSON.stringify(wanted[key])} belongs to stack '${other}' on ${server} (${identityRecordOf(other)}); two stacks there would ` +
          `overwrite each other's ${key === "app.port" ? "port and health checks" : "releases, units and shared/"}. Choose another ${key}, or remove the other stack first ('pulumi destroy -s ${other}').`,
    );
  return [...changed, ...claimed];
}
