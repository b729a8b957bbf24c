import * as pulumi from "@pulumi/pulumi";
import { renderScript } from "../steps/commands";
import { DriftBaseline, driftCheck } from "../providers/drift";
import { Host } from "../host/host";
import { unitFileOf } from "../../lib/paths";
import { MANAGED_UNIT_HEADER } from "../render/unitParts";
import { installFile } from "../steps/installFile";
import { timerSteps } from "../steps/timerSteps";
import { monitoringPaths } from "./monitoring";

/** Journal identifier of every alert and recovery message, the same for all stacks. */
export const ALERT_IDENTIFIER = "ai4artsed-health-alert";
/** Where the probe keeps its outage state, one file per stack. */
export const MONITOR_STATE_DIR = "/var/lib/ai4artsed";
/** Where the rendered probe scripts live. */
export const PROBE_DIR = "/usr/local/lib/ai4artsed";

export interface HealthMonitorArgs {
  readonly host: Host;
  /** The app's unit without .service, e.g. ai4artsed-production; names the monitor's units. */
  readonly unitName: string;
  /** The unit named in alerts: the app's unit, or with blue-green the proxy's. */
  readonly alertUnit: string;
  /** Blue-green: the probe names the color the serving link points at when it alerts. */
  readonly colors?: { readonly servingLink: string; readonly appTemplate: string };
  /** URL that answers 2xx while the app is healthy. */
  readonly healthUrl: string;
  /** Seconds between probes. */
  readonly intervalSeconds: number;
  /** Seconds the app must stay unhealthy before the one alert of an outage. */
  readonly alertAfterSeconds: number;
  /** Hours between reminders of a problem that lasts (the app down, the off-host backup failing); 0 for none. */
  readonly remindEveryHours: number;
  /** URL the alert and the recovery are POSTed to (a secret; on the server only in a 0600 root file). Defaults to none. */
  readonly webhookUrl?: pulumi.Input<string>;
  /** observe.sh's `monitor` section; undefined when the server was not observed. */
  readonly observed?: string;
  /** What the stack last applied of each piece, for telling drift from a planned change. */
  readonly driftBaseline: DriftBaseline;
  /** The off-host backup the probe also watches (its age and last result). Defaults to none. */
  readonly offsite?: OffsiteWatch;
}

/** What the probe needs to watch a stack's off-host backup. */
export interface OffsiteWatch {
  readonly stack: string;
  /** The backup's unit without .service. */
  readonly unit: string;
  readonly stateFile: string;
  /** Where the probe records that it alerted about the backup. */
  readonly alertFile: string;
  readonly maxAgeHours: number;
}

/** The names a stack's monitor uses on the server; the delete step removes exactly these. */
export function monitorPaths(unitName: string, envDir: string) {
  const unit = `${unitName}-health`;
  return {
    unit,
    serviceFile: unitFileOf(`${unit}.service`),
    timerFile: unitFileOf(`${unit}.timer`),
    probeFile: `${PROBE_DIR}/${unit}-probe.sh`,
    webhookFile: `${envDir}/${unit}.webhook`,
    stateFile: `${MONITOR_STATE_DIR}/${unit}.state`,
    /** Webhook messages not yet taken, sent again at the next probe. */
    outboxFile: `${MONITOR_STATE_DIR}/${unit}.outbox`,
    /** The checked unit's restart count at the last probe: a crash loop shows as a rising count. */
    restartsFile: `${MONITOR_STATE_DIR}/${unit}.restarts`,
  };
}

/** What observe.sh needs to report a stack's monitor: its timer and files, in the order they are compared. */
export function monitorObservationParams(unitName: string, envDir: string): { MONITOR_UNIT: string; MONITOR_FILES: string } {
  const paths = monitorPaths(unitName, envDir);
  return { MONITOR_UNIT: paths.unit, MONITOR_FILES: [paths.probeFile, paths.serviceFile, paths.timerFile].join(" ") };
}

export interface MonitorUnitSpec {
  readonly unitName: string;
  readonly probeFile: string;
  readonly intervalSeconds: number;
  readonly alertAfterSeconds: number;
}

/** The oneshot that runs one probe; root, read-only system except the state directory. */
export function renderProbeService(spec: MonitorUnitSpec): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=Health probe of ${spec.unitName}.service
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=oneshot
ExecStart=/bin/bash ${spec.probeFile}
TimeoutStartSec=${spec.alertAfterSeconds + 120}
SyslogIdentifier=${spec.unitName}-health
StateDirectory=${MONITOR_STATE_DIR.replace(/^\/var\/lib\//, "")}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
`;
}

/** The timer: the first probe one interval after it starts, then one interval after each probe. */
export function renderProbeTimer(spec: MonitorUnitSpec): string {
  return `${MANAGED_UNIT_HEADER}
[Unit]
Description=Probe ${spec.unitName}.service every ${spec.intervalSeconds}s

[Timer]
OnActiveSec=${spec.intervalSeconds}s
OnUnitActiveSec=${spec.intervalSeconds}s
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
}

/**
 * Health monitoring on the server: a systemd timer runs a probe of the stack's health URL; an
 * outage longer than the threshold gives one journal entry at priority err (identifier
 * ai4artsed-health-alert) and one webhook POST, a reminder every remindEveryHours while it lasts,
 * the recovery one notice and one POST. A POST the webhook does not take is sent again at the next probe.
 */
export class HealthMonitor extends pulumi.ComponentResource {
  public readonly timerName: pulumi.Output<string>;

  constructor(name: string, args: HealthMonitorArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:monitor:HealthMonitor", name, {}, opts);
    const { host } = args;
    const connection = host.connection;
    const paths = monitorPaths(args.unitName, host.envDir);
    const spec: MonitorUnitSpec = {
      unitName: args.unitName,
      probeFile: paths.probeFile,
      intervalSeconds: args.intervalSeconds,
      alertAfterSeconds: args.alertAfterSeconds,
    };
    const child = { parent: this, dependsOn: [host.ready] };

    const probeText = renderScript("health-probe", {
      UNIT_NAME: args.alertUnit,
      SERVING_LINK: args.colors?.servingLink ?? "",
      APP_TEMPLATE: args.colors?.appTemplate ?? "",
      HEALTH_URL: args.healthUrl,
      ALERT_AFTER_SECONDS: spec.alertAfterSeconds,
      REMIND_EVERY_SECONDS: Math.round(args.remindEveryHours * 3600),
      STATE_FILE: paths.stateFile,
      OUTBOX_FILE: paths.outboxFile,
      RESTARTS_FILE: paths.restartsFile,
      WEBHOOK_FILE: paths.webhookFile,
      ALERT_IDENTIFIER,
      ALERTMANAGER_WEBHOOK_FILE: monitoringPaths(host.envDir).webhookFile,
      ...(args.offsite
        ? {
            OFFSITE_STACK: args.offsite.stack,
            OFFSITE_UNIT: args.offsite.unit,
            OFFSITE_STATE_FILE: args.offsite.stateFile,
            OFFSITE_ALERT_FILE: args.offsite.alertFile,
            OFFSITE_MAX_AGE_HOURS: args.offsite.maxAgeHours,
          }
        : {}),
    });
    const serviceText = renderProbeService(spec);
    const timerText = renderProbeTimer(spec);
    // A stopped or disabled timer, or an edited file, shows in preview; `up` rewrites and re-enables.
    const state = driftCheck(`${name}-state`, `active enabled\n${probeText}${serviceText}${timerText}`, args.observed, this, args.driftBaseline);
    const probe = installFile(`${name}-probe`, { connection, file: paths.probeFile, mode: "755", text: probeText, repairs: state.repairs }, child);
    const steps: pulumi.Resource[] = [probe];
    if (args.webhookUrl !== undefined) {
      steps.push(
        installFile(
          `${name}-webhook`,
          {
            connection,
            file: paths.webhookFile,
            mode: "600",
            text: pulumi.secret(pulumi.output(args.webhookUrl).apply((url) => `${url}\n`)),
            removeOnDestroy: {},
          },
          child,
        ),
      );
    }
    steps.push(
      installFile(
        `${name}-service`,
        { connection, file: paths.serviceFile, mode: "644", text: serviceText, onChange: "systemctl daemon-reload", repairs: state.repairs },
        child,
      ),
    );
    // The timer, enabled; on destroy only (or monitor.enabled false) its removal with the service, probe, webhook file and state.
    const timer = timerSteps(
      name,
      {
        connection,
        timer: paths,
        timerText,
        repairs: state.repairs,
        files: [paths.probeFile, paths.webhookFile, paths.stateFile, paths.restartsFile, paths.outboxFile, ...(args.offsite ? [args.offsite.alertFile] : [])],
        dependsOn: steps,
        removeDependsOn: [host.ready],
      },
      this,
    );

    this.timerName = pulumi.output(timer);
    this.registerOutputs({ timerName: this.timerName });
  }
}
