import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../../lib/sha256";
import { sftpTarget } from "../../lib/restic";
import { StackConfig } from "../../config/schema";
import { renderScript } from "../steps/commands";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { Host } from "../host/host";
import { MONITOR_STATE_DIR, OffsiteWatch, PROBE_DIR } from "./monitor";
import { ENV_DIR, unitFileOf } from "../../lib/paths";
import { installFile } from "../steps/installFile";
import { timerSteps } from "../steps/timerSteps";
import { renderEnvironmentFile } from "../render/serviceFiles";
import { MANAGED_UNIT_HEADER, sharedSandbox } from "../render/unitParts";

/** Debian packages an off-host backup needs: restic, and ssh for an sftp repository. */
export const OFFSITE_PACKAGES = ["restic", "openssh-client"];

/** The validated `backup.offsite` settings of a stack that backs up. */
export type OffsiteSettings = Extract<StackConfig["backup"]["offsite"], { enabled: true }>;

/** The names a stack's off-host backup uses on the server; destroy removes all but the state. */
export function offsitePaths(unitName: string, envDir: string = ENV_DIR) {
  const unit = `${unitName}-offsite-backup`;
  return {
    unit,
    scriptFile: `${PROBE_DIR}/${unit}.sh`,
    serviceFile: unitFileOf(`${unit}.service`),
    timerFile: unitFileOf(`${unit}.timer`),
    passwordFile: `${envDir}/${unit}.password`,
    sshKeyFile: `${envDir}/${unit}.ssh-key`,
    knownHostsFile: `${envDir}/${unit}.known_hosts`,
    credentialsFile: `${envDir}/${unit}.credentials`,
    /** Result of the last run and which repository this server's data continues (kept on destroy). */
    stateFile: `${MONITOR_STATE_DIR}/${unit}.state`,
    /** Owner and group names of shared/, backed up with it. */
    ownersFile: `${MONITOR_STATE_DIR}/${unit}.owners`,
    /** The health monitor's record of its alert about the backup. */
    alertFile: `${MONITOR_STATE_DIR}/${unit}.alert`,
  };
}

/**
 * What restic needs to reach a stack's repository, for the backup and for a restore alike:
 * paths of the credential files (never their content) and, for sftp, the login and port.
 */
export function repositoryParams(stack: string, unitName: string, installDir: string, repository: string) {
  const paths = offsitePaths(unitName);
  const sftp = sftpTarget(repository);
  return {
    STACK: stack,
    INSTALL_DIR: installDir,
    REPOSITORY: repository,
    PASSWORD_FILE: paths.passwordFile,
    CREDENTIALS_FILE: paths.credentialsFile,
    SFTP_LOGIN: sftp ? `${sftp.user}@${sftp.host}` : undefined,
    SFTP_PORT: sftp?.port,
    SSH_KEY_FILE: sftp ? paths.sshKeyFile : undefined,
    KNOWN_HOSTS_FILE: sftp ? paths.knownHostsFile : undefined,
    OFFSITE_STATE_FILE: paths.stateFile,
    OWNERS_FILE: paths.ownersFile,
  };
}

/** The pinned host key as a known_hosts line for the sftp target. */
export function knownHostsLine(repository: string, hostKey: string): string {
  const sftp = sftpTarget(repository);
  if (!sftp) throw new Error(`${repository} is not an sftp repository`);
  return `${sftp.port === 22 ? sftp.host : `[${sftp.host}]:${sftp.port}`} ${hostKey}\n`;
}

export interface OffsiteUnitSpec {
  readonly unitName: string;
  readonly installDir: string;
  readonly repository: string;
  readonly schedule: string;
  /** The health monitor's unit (without .service), run after each backup so a result alerts at once. */
  readonly monitorUnit: string;
  readonly withSshKey: boolean;
  readonly withCredentials: boolean;
}

/**
 * The backup's oneshot: root, but only able to read (CAP_DAC_READ_SEARCH) and with a read-only
 * system, so it cannot write into shared/; the app's EnvironmentFile is out of its sight, its own
 * credentials come in as systemd credentials. Low CPU and I/O priority: a workshop may be running.
 */
export function renderOffsiteService(spec: OffsiteUnitSpec): string {
  const paths = offsitePaths(spec.unitName);
  const credentials = [
    `LoadCredential=restic-password:${paths.passwordFile}`,
    ...(spec.withSshKey ? [`LoadCredential=ssh-key:${paths.sshKeyFile}`, `LoadCredential=known-hosts:${paths.knownHostsFile}`] : []),
    ...(spec.withCredentials ? [`LoadCredential=backend-credentials:${paths.credentialsFile}`] : []),
  ];
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=Off-host backup of ${spec.installDir}/shared (restic)
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0
OnSuccess=${spec.monitorUnit}.service
OnFailure=${spec.monitorUnit}.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${paths.scriptFile}
${credentials.join("\n")}
SyslogIdentifier=${paths.unit}
StateDirectory=${MONITOR_STATE_DIR.replace(/^\/var\/lib\//, "")}
CacheDirectory=ai4artsed-restic
TimeoutStartSec=12h
Nice=10
IOSchedulingClass=idle
${sharedSandbox("AF_UNIX AF_INET AF_INET6")}
CapabilityBoundingSet=CAP_DAC_READ_SEARCH
InaccessiblePaths=${ENV_DIR}
`;
}

/** The timer: on the schedule; a run missed while the server was off happens at boot. */
export function renderOffsiteTimer(spec: OffsiteUnitSpec): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=Off-host backup of ${spec.unitName} (${spec.schedule})

[Timer]
OnCalendar=${spec.schedule}
Persistent=true
AccuracySec=1min

[Install]
WantedBy=timers.target
`;
}

/** What observe.sh needs to report a stack's off-host backup. */
export function offsiteObservationParams(unitName: string, repository: string) {
  const paths = offsitePaths(unitName);
  const sftp = sftpTarget(repository) !== undefined;
  return {
    OFFSITE_UNIT: paths.unit,
    OFFSITE_FILES: [paths.scriptFile, paths.serviceFile, paths.timerFile, ...(sftp ? [paths.knownHostsFile] : [])].join(" "),
    OFFSITE_SECRET_FILES: [paths.passwordFile, ...(sftp ? [paths.sshKeyFile] : [])].join(" "),
    OFFSITE_STATE_FILE: paths.stateFile,
  };
}


function duration(seconds: number): string {
  if (seconds < 3600) return `${Math.max(0, Math.round(seconds / 60))} min`;
  if (seconds < 172800) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

/**
 * The line preview prints about the last backup, from observe.sh's `offsite-status` section (the
 * state file on the server; no call to the backup target), and whether it is a warning.
 */
export function lastBackupReport(status: string, maxAgeHours: number): { warn: boolean; text: string } {
  const values = new Map(
    status
      .split("\n")
      .map((line) => line.match(/^([a-z_]+)=(.*)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]] as const),
  );
  const now = Number(values.get("now"));
  const result = values.get("last_result");
  const success = values.get("last_success");
  if (!result) return { warn: true, text: "off-host backup: none yet on this server (the timer runs it on its schedule)" };
  const attempt = Number(values.get("last_attempt"));
  if (result !== "ok") {
    const lastGood = success ? `; the last good one is ${duration(now - Number(success))} old` : "; none succeeded yet";
    return { warn: true, text: `off-host backup: the last one failed ${duration(now - attempt)} ago: ${values.get("last_message")}${lastGood}` };
  }
  const age = now - Number(success);
  const text = `off-host backup: the last one succeeded ${duration(age)} ago (${values.get("last_message")})`;
  return age > maxAgeHours * 3600 ? { warn: true, text: `${text}, older than backup.offsite.maxAgeHours (${maxAgeHours})` } : { warn: false, text };
}

/** What the health monitor needs to watch a stack's off-host backup. */
export function offsiteWatch(stack: string, unitName: string, maxAgeHours: number): OffsiteWatch {
  const paths = offsitePaths(unitName);
  return { stack, unit: paths.unit, stateFile: paths.stateFile, alertFile: paths.alertFile, maxAgeHours };
}

export interface OffsiteBackupArgs {
  readonly host: Host;
  /** The Pulumi stack; tags every snapshot. */
  readonly stack: string;
  /** The app's unit without .service, e.g. ai4artsed-production; names the backup's units and files. */
  readonly unitName: string;
  readonly settings: OffsiteSettings;
  /** The health monitor's unit (without .service) that watches the backup's result and age. */
  readonly monitorUnit: string;
  /** observe.sh's `offsite` section; undefined when the server was not observed. */
  readonly observed?: string;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
  /** observe.sh's `offsite-status` section: the last backup's result, shown by preview. Defaults to none. */
  readonly status?: string;
}

/**
 * Scheduled, encrypted backups of all of shared/ (exports included) to a restic repository off
 * the server: a systemd timer runs restic backup (tagged with the stack, the serving commit and
 * the host), forget --prune by the retention and, weekly, a check that reads back a subset of the
 * data. Nothing here contacts the repository at deploy time: an unreachable target never fails
 * `pulumi up`; the health monitor alerts when a backup fails or goes stale.
 */
export class OffsiteBackup extends pulumi.ComponentResource {
  public readonly timerName: pulumi.Output<string>;

  constructor(name: string, args: OffsiteBackupArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:backup:OffsiteBackup", name, {}, opts);
    const { host, settings } = args;
    const connection = host.connection;
    const paths = offsitePaths(args.unitName, host.envDir);
    const sftp = sftpTarget(settings.repository);
    const credentials = Object.keys(settings.credentials).length > 0;
    const spec: OffsiteUnitSpec = {
      unitName: args.unitName,
      installDir: host.installDir,
      repository: settings.repository,
      schedule: settings.schedule,
      monitorUnit: args.monitorUnit,
      withSshKey: sftp !== undefined,
      withCredentials: credentials,
    };
    const scriptText = renderScript("offsite-backup", {
      ...repositoryParams(args.stack, args.unitName, host.installDir, settings.repository),
      OFFSITE_UNIT: paths.unit,
      KEEP_WITHIN_DAYS: settings.keepWithinDays,
      KEEP_DAILY: settings.keepDaily,
      KEEP_WEEKLY: settings.keepWeekly,
      KEEP_MONTHLY: settings.keepMonthly,
      CHECK_SUBSET: settings.checkSubset,
      CHECK_EVERY_DAYS: settings.checkEveryDays,
    });
    const serviceText = renderOffsiteService(spec);
    const timerText = renderOffsiteTimer(spec);
    const knownHostsText = sftp && settings.hostKey ? knownHostsLine(settings.repository, settings.hostKey) : undefined;
    const passwordText = pulumi.secret(pulumi.output(settings.password ?? ""));
    const sshKeyText = pulumi.secret(pulumi.output(settings.sshKey ?? "").apply((key) => (key.endsWith("\n") ? key : `${key}\n`)));
    const secretFiles = [passwordText, ...(sftp ? [sshKeyText] : [])];

    // Drift: the timer's state, the files as they are, the credential files as mode, owner and checksum.
    const plainText = `active enabled\n${scriptText}${serviceText}${timerText}${knownHostsText ?? ""}`;
    const expected = pulumi.secret(
      pulumi.all(secretFiles).apply((texts) => `${plainText}${texts.map((text) => `600 root:root sha256:${sha256(text)}`).join("\n")}`),
    );
    const state = driftCheck(`${name}-state`, expected, args.observed, this, args.driftBaseline);
    if (args.status !== undefined) {
      const report = lastBackupReport(args.status, settings.maxAgeHours);
      if (report.warn) pulumi.log.warn(report.text, this);
      else pulumi.log.info(report.text, this);
    }

    const child = { parent: this, dependsOn: [host.ready] };
    const install = (step: string, file: string, mode: "600" | "644" | "755", text: pulumi.Input<string>, onChange?: string) =>
      installFile(`${name}-${step}`, { connection, file, mode, text, onChange, repairs: state.repairs }, child);
    const steps: pulumi.Resource[] = [
      install("script", paths.scriptFile, "755", scriptText),
      install("password", paths.passwordFile, "600", passwordText),
    ];
    if (sftp) {
      steps.push(install("ssh-key", paths.sshKeyFile, "600", sshKeyText));
      steps.push(install("known-hosts", paths.knownHostsFile, "644", knownHostsText ?? ""));
    }
    if (credentials) {
      const text = pulumi.secret(pulumi.output(settings.credentials).apply((values) => renderEnvironmentFile(values)));
      steps.push(install("credentials", paths.credentialsFile, "600", text));
    }
    steps.push(install("service", paths.serviceFile, "644", serviceText, "systemctl daemon-reload"));
    // The timer, enabled once its schedule parses; on destroy only (or backup.offsite off) the timer,
    // units, script and credential files go; the repository, shared/ and the state (which
    // repository this data continues) stay.
    const timer = timerSteps(
      name,
      {
        connection,
        timer: paths,
        timerText,
        repairs: state.repairs,
        files: [paths.scriptFile, paths.passwordFile, paths.sshKeyFile, paths.knownHostsFile, paths.credentialsFile, paths.ownersFile, paths.alertFile],
        check: `systemd-analyze calendar ${JSON.stringify(settings.schedule)} >/dev/null || { echo "backup.offsite.schedule '${settings.schedule}' is not a systemd OnCalendar expression (man systemd.time)" >&2; exit 1; }`,
        dependsOn: steps,
        removeDependsOn: [host.ready],
      },
      this,
    );

    this.timerName = pulumi.output(timer);
    this.registerOutputs({ timerName: this.timerName });
  }
}
