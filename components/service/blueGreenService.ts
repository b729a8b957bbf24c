import * as pulumi from "@pulumi/pulumi";
import { BlueGreenNames, blueGreenFilesOf, blueGreenNames, colorUnits, unitFileOf } from "../../lib/paths";
import {
  BLUE_GREEN_RUNNING_STATE,
  renderBridgeService,
  renderBridgeSocket,
  renderEgressService,
  renderProxyConfig,
  renderProxyUnit,
} from "../render/blueGreenUnits";
import { stepResultOf } from "../steps/remoteScript";
import { BLUE_GREEN_SERVICE_TYPE, deployServiceSteps, ExtraFile, RESTART_SERVICE_TYPE, ServiceArgs, ServiceComponent } from "./deployedService";

export interface BlueGreenServiceArgs extends ServiceArgs {
  /** How long the old color may finish requests in flight. */
  readonly drainTimeoutSeconds: number;
  /** Where the proxy serves its Prometheus metrics, on 127.0.0.1. */
  readonly proxyMetricsPort: number;
  /** Host loopback ports the colors reach from their namespaces. */
  readonly hostLoopbackPorts: readonly number[];
}

/** The bridge socket and service, the egress, the proxy unit and its config, in observe.sh's order. */
function blueGreenFiles(names: BlueGreenNames, args: BlueGreenServiceArgs): ExtraFile[] {
  const reload = "systemctl daemon-reload";
  return [
    { step: "bridge-socket", file: names.bridgeSocketFile, text: renderBridgeSocket(names, args.description), onChange: reload },
    { step: "bridge-service", file: names.bridgeServiceFile, text: renderBridgeService(names, args.description, args.port), onChange: reload },
    { step: "egress-service", file: names.egressServiceFile, text: renderEgressService(names, args.description, args.hostLoopbackPorts), onChange: reload },
    // A running proxy keeps a changed unit until its next restart; a config change reloads it gracefully.
    { step: "proxy-unit", file: names.proxyUnitFile, text: renderProxyUnit(names, args.description, args.port), onChange: reload },
    {
      step: "proxy-config",
      file: names.proxyConfigFile,
      text: renderProxyConfig({ names, port: args.port, metricsPort: args.proxyMetricsPort, drainTimeoutSeconds: args.drainTimeoutSeconds }),
      onChange: `systemctl try-reload-or-restart ${names.proxyUnit}`,
    },
  ];
}

/** The serving color's unit, from the activation's result; the template glob until there is one. */
export function servingUnitOf(stdout: string, names: BlueGreenNames): string {
  return stepResultOf(stdout)?.servingUnit ?? `${names.appTemplate}*.service`;
}

/**
 * Blue-green strategy: two colors of the app, each in its own network namespace behind a
 * per-stack proxy; a deploy starts the idle color, gates it, moves traffic, watches it, and
 * drains the old one (render/blueGreenUnits.ts explains the parts).
 */
export class BlueGreenService extends ServiceComponent {
  constructor(name: string, args: BlueGreenServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(BLUE_GREEN_SERVICE_TYPE, RESTART_SERVICE_TYPE, name, opts);
    const names = blueGreenNames(args.unitName, args.host.installDir, args.host.envDir);
    const { activate, healthUrl } = deployServiceSteps(this, name, args, {
      unitFile: names.appTemplateFile,
      color: true,
      wants: [`${names.egressTemplate}%i.service`],
      // Blue-green enables the serving color's instance itself.
      unitOnChange: "systemctl daemon-reload",
      extraFiles: blueGreenFiles(names, args),
      runningState: BLUE_GREEN_RUNNING_STATE,
      activate: {
        script: "activate-blue-green",
        params: (url) => ({
          APP_TEMPLATE: names.appTemplate,
          BRIDGE_TEMPLATE: names.bridgeTemplate,
          PROXY_UNIT: names.proxyUnit,
          LEGACY_UNIT: names.legacyUnit,
          LEGACY_UNIT_FILE: unitFileOf(names.legacyUnit),
          SOCKET_PREFIX: names.socketPrefix,
          SERVING_LINK: names.servingLink,
          STANDBY_LINK: names.standbyLink,
          COLOR_LINK_PREFIX: names.colorLinkPrefix,
          HEALTH_PATH: args.healthPath,
          PUBLIC_HEALTH_URL: url,
          DRAIN_TIMEOUT_SECONDS: args.drainTimeoutSeconds,
          DRAIN_PREFIX: names.drainPrefix,
          DRAIN_PROGRAM_PREFIX: names.drainProgramPrefix,
        }),
      },
      removeParams: (environmentFile) => ({
        UNIT_NAME: names.proxyUnit,
        ENV_FILE: environmentFile,
        // The restart strategy's unit too, if a move from it left one.
        EXTRA_UNITS: [...colorUnits(names), names.legacyUnit].join(" "),
        EXTRA_FILES: [...blueGreenFilesOf(names), unitFileOf(names.legacyUnit)].join(" "),
        UNIT_FILE: names.proxyUnitFile,
      }),
    });
    this.finish(
      activate,
      args.release,
      healthUrl,
      activate.stdout.apply((out) => servingUnitOf(out, names)),
      { healthUrl, alertUnit: names.proxyUnit, colors: { servingLink: names.servingLink, appTemplate: names.appTemplate } },
    );
  }
}
