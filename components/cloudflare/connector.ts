import * as pulumi from "@pulumi/pulumi";
import { Host } from "../host/host";
import { unitFileOf } from "../../lib/paths";
import { sha256 } from "../../lib/sha256";
import { remoteScript } from "../steps/remoteScript";
import { installFile } from "../steps/installFile";
import { connectorUnitName, renderConnectorUnit } from "./connectorUnit";
import { Tunnel } from "./tunnel";

export interface ConnectorArgs {
  readonly host: Host;
  /** The tunnel this connector runs; its token goes to the server on stdin only. */
  readonly tunnel: Tunnel;
  /** production or development: names the unit cloudflared-ai4artsed-<environment>. */
  readonly environment: string;
  /** Where cloudflared comes from: Cloudflare's apt repository, or a binary already on the server. */
  readonly packageSource: "cloudflare-apt" | "installed";
  /** The cloudflared binary the unit runs. */
  readonly binaryPath: string;
  /** Apt repository for cloudflare-apt. */
  readonly aptRepository: string;
  /** The repository's signing key (a binary keyring). */
  readonly aptKeyUrl: string;
  /** What must run first, e.g. the app service, so the tunnel never serves a half-deployed app. Defaults to nothing. */
  readonly dependsOn?: pulumi.Resource[];
}

/**
 * cloudflared on the server: the package, this stack's unit (one connector per tunnel per host),
 * the token in a root-owned 0600 file. Destroy removes only this stack's unit and token file.
 */
export class Connector extends pulumi.ComponentResource {
  public readonly unitName: pulumi.Output<string>;

  constructor(name: string, args: ConnectorArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:cloudflare:Connector", name, {}, opts);
    const { host, tunnel } = args;
    const connection = host.connection;
    const unitName = connectorUnitName(args.environment);
    const unit = `${unitName}.service`;
    const tokenFile = `${host.envDir}/${unitName}.token`;
    // A running connector picks up a new token or unit at once; a stopped one is started by the install step.
    const restartIfActive = `{ ! systemctl is-active --quiet ${unit} || systemctl restart ${unit}; }`;
    const unitText = renderConnectorUnit({
      unitName,
      description: `Cloudflare tunnel connector for AI4ArtsEd ${args.environment}`,
      binaryPath: args.binaryPath,
      tokenFile,
    });

    const tokenStep = installFile(
      `${name}-token`,
      { connection, file: tokenFile, mode: "600", text: tunnel.token, onChange: restartIfActive },
      { parent: this, dependsOn: [host.ready] },
    );
    const unitStep = installFile(
      `${name}-unit`,
      { connection, file: unitFileOf(unit), mode: "644", text: unitText, onChange: `systemctl daemon-reload && ${restartIfActive}` },
      { parent: this, dependsOn: [host.ready] },
    );
    const install = remoteScript(
      `${name}-install`,
      {
        connection,
        script: "cloudflared-install",
        params: {
          UNIT_NAME: unit,
          UNIT_SHA256: sha256(unitText),
          TUNNEL_ID: tunnel.tunnelId,
          PUBLIC_HOSTNAME: tunnel.hostname,
          TOKEN_FILE: tokenFile,
          BINARY: args.binaryPath,
          PACKAGE_SOURCE: args.packageSource,
          APT_REPOSITORY: args.aptRepository,
          APT_KEY_URL: args.aptKeyUrl,
          UNIT_FILE: unitFileOf(unit),
        },
      },
      { parent: this, dependsOn: [host.ready, tokenStep, unitStep, ...(args.dependsOn ?? [])] },
    );
    // Destroy only: stops and removes this stack's unit and token file; the package stays (the other stack may use it).
    // It depends on the tunnel so that destroy stops the connector before the tunnel goes.
    remoteScript(
      `${name}-remove`,
      { connection, deleteScript: "cloudflared-remove", deleteParams: { UNIT_NAME: unit, TOKEN_FILE: tokenFile, UNIT_FILE: unitFileOf(unit) } },
      { parent: this, dependsOn: [host.ready, tunnel] },
    );

    this.unitName = install.stdout.apply(() => unit);
    this.registerOutputs({ unitName: this.unitName });
  }
}
