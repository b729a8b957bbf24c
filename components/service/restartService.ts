import * as pulumi from "@pulumi/pulumi";
import { blueGreenFilesOf, blueGreenNames, colorUnits, unitFileOf } from "../../lib/paths";
import { BLUE_GREEN_SERVICE_TYPE, deployServiceSteps, RESTART_SERVICE_TYPE, ServiceArgs, ServiceComponent } from "./deployedService";

/** Restart strategy: one unit on the app's port; a deploy switches `current` and restarts it. */
export class RestartService extends ServiceComponent {
  constructor(name: string, args: ServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(RESTART_SERVICE_TYPE, BLUE_GREEN_SERVICE_TYPE, name, opts);
    const unit = `${args.unitName}.service`;
    // What blue-green may have left on the server: a move to restart stops and removes it.
    const names = blueGreenNames(args.unitName, args.host.installDir, args.host.envDir);
    const blueGreenUnits = [names.proxyUnit, ...colorUnits(names)];
    const { activate, healthUrl } = deployServiceSteps(this, name, args, {
      unitFile: unitFileOf(unit),
      color: false,
      wants: [],
      unitOnChange: `systemctl daemon-reload && systemctl enable ${unit}`,
      extraFiles: [],
      runningState: "active enabled",
      activate: {
        script: "activate",
        // Units a blue-green deploy left would hold the port; activate stops them first.
        params: (url) => ({ UNIT_NAME: unit, HEALTH_URL: url, RETIRE_UNITS: blueGreenUnits.join(" ") }),
      },
      removeParams: (environmentFile) => ({
        UNIT_NAME: unit,
        ENV_FILE: environmentFile,
        EXTRA_UNITS: blueGreenUnits.join(" "),
        EXTRA_FILES: blueGreenFilesOf(names).join(" "),
        UNIT_FILE: unitFileOf(unit),
      }),
    });
    this.finish(activate, args.release, healthUrl, pulumi.output(unit), { healthUrl, alertUnit: unit });
  }
}
