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
 * destroy removes it), the program reads it in its first SSH session, and a difference stops the
 * run before anything on the server changes. The record lives on the server, not in the
 * operator's state, because the server is what a change would break, and it is what tells a
 * stack that deployed there from one that never did.
 */
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { ENV_DIR } from "../../lib/paths";

export const IDENTITY_SETTINGS = ["environment", "providers", "app.installDir", "app.serviceName", "app.serviceUser"] as const;
export type IdentitySetting = (typeof IDENTITY_SETTINGS)[number];

/** Where the server keeps a stack's record; one file per stack name, which no setting changes. */
export function identityRecordOf(stack: string): string {
  return `${ENV_DIR}/${stack}.stack`;
}

export function identityOf(environment: EnvironmentName, config: StackConfig): Record<IdentitySetting, string> {
  return {
    environment,
    providers: config.providers,
    "app.installDir": config.app.installDir,
    "app.serviceName": config.app.serviceName,
    "app.serviceUser": config.app.serviceUser,
  };
}

/** The record as the server keeps it: one `setting=value` line each, in a fixed order. */
export function renderIdentity(identity: Record<IdentitySetting, string>): string {
  return IDENTITY_SETTINGS.map((key) => `${key}=${identity[key]}\n`).join("");
}

/**
 * What no other stack on the server may use too: its install dir (releases and shared/ would
 * be overwritten), its unit name and its port. The record keeps them; the port may change on the
 * stack itself, so it is a claim only, not part of the identity.
 */
export const CLAIM_SETTINGS = ["app.installDir", "app.serviceName", "app.port"] as const;
export type ClaimSetting = (typeof CLAIM_SETTINGS)[number];

export function claimsOf(config: StackConfig): Record<ClaimSetting, string> {
  return { "app.installDir": config.app.installDir, "app.serviceName": config.app.serviceName, "app.port": String(config.app.port) };
}

/** The lines stack-identity.sh looks for in other stacks' records, one `setting=value` each. */
export function renderClaims(claims: Record<ClaimSetting, string>): string {
  return CLAIM_SETTINGS.map((key) => `${key}=${claims[key]}\n`).join("");
}

/** What host-layout writes: the identity, then the port claim (the other claims are in the identity). */
export function renderRecord(identity: Record<IdentitySetting, string>, claims: Record<ClaimSetting, string>): string {
  return `${renderIdentity(identity)}app.port=${claims["app.port"]}\n`;
}

/**
 * The problems of a config whose install dir, unit name or port another stack's record claims:
 * observe.sh's `claimed` section, one `<stack> <setting>=<value>` line each.
 */
export function claimProblems(server: string, claimedText: string | undefined): string[] {
  return (claimedText ?? "")
    .split("\n")
    .map((line) => line.match(/^(\S+) ([A-Za-z.]+)=(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map(
      ([, other, key, value]) =>
        `ai4artsed:${key}: ${JSON.stringify(value)} belongs to stack '${other}' on ${server} (${identityRecordOf(other)}); two stacks there would ` +
        `overwrite each other's ${key === "app.port" ? "port and health checks" : "releases, units and shared/"}. Choose another ${key}, or remove the other stack first ('pulumi destroy -s ${other}').`,
    );
}

export function parseIdentity(text: string): Partial<Record<IdentitySetting, string>> {
  const values: Partial<Record<IdentitySetting, string>> = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^([A-Za-z.]+)=(.*)$/);
    if (match && (IDENTITY_SETTINGS as readonly string[]).includes(match[1])) values[match[1] as IdentitySetting] = match[2];
  }
  return values;
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
 * The problems, one per changed setting; none when the server has no record (a stack's first
 * deploy there, or after a destroy).
 */
export function identityProblems(stack: string, server: string, wanted: Record<IdentitySetting, string>, recordText: string | undefined): string[] {
  if (recordText === undefined) return [];
  const recorded = parseIdentity(recordText);
  return IDENTITY_SETTINGS.filter((key) => recorded[key] !== undefined && recorded[key] !== wanted[key]).map(
    (key) =>
      `ai4artsed:${key}: is ${JSON.stringify(wanted[key])}, but this stack is deployed on ${server} with ${JSON.stringify(recorded[key])} (${identityRecordOf(stack)}). ` +
      `Changing it on a deployed stack would ${key === "environment" || key === "providers" ? "replace every step, and the replaced steps' deletes would tear the environment down" : "leave the old app running on its port and start a new one without the pupils' data"}; ` +
      `${procedure(key, stack, recorded[key]!)}.`,
  );
}
