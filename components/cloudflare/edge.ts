import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { Host } from "../host/host";
import { Access, CheckToken } from "./access";
import { Connector } from "./connector";
import { RateLimit } from "./rateLimit";
import { Tunnel } from "./tunnel";

export interface EdgeArgs {
  /** production or development: names the tunnel, the connector unit and the Access labels. */
  readonly environment: EnvironmentName;
  /** The validated `cloudflare` section, enabled. */
  readonly settings: StackConfig["cloudflare"];
  readonly host: Host;
  /** Local port of the app the tunnel serves. */
  readonly appPort: number;
  /** The running app; the connector starts after it. */
  readonly service: pulumi.Resource;
}

function required<T>(value: T | undefined, key: string, parent: pulumi.Resource): T {
  if (value === undefined) throw new pulumi.ResourceError(`\`cloudflare.${key}\` is required when Cloudflare is enabled`, parent);
  return value;
}

/**
 * Everything between the internet and the server: an explicit Cloudflare provider (the stack's
 * API token), Access, the tunnel and its DNS name, the connector on the server, rate limiting.
 * Loaded only when cloudflare.enabled is true.
 */
export class Edge extends pulumi.ComponentResource {
  /** https://<hostname>, known once the DNS record exists. */
  public readonly publicUrl: pulumi.Output<string>;
  public readonly tunnelId: pulumi.Output<string>;
  /** The after-deploy check's Access service token (a secret). */
  public readonly checkToken: pulumi.Output<CheckToken>;

  constructor(name: string, args: EdgeArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:cloudflare:Edge", name, {}, opts);
    const s = args.settings;
    const accountId = required(s.accountId, "accountId", this);
    const zoneId = required(s.zoneId, "zoneId", this);
    const hostname = required(s.hostname, "hostname", this);
    const label = `ai4artsed-${args.environment}`;

    const provider = new cloudflare.Provider(`${name}-provider`, { apiToken: pulumi.secret(required(s.apiToken, "apiToken", this)) }, { parent: this });
    const onCloudflare = { parent: this, providers: [provider] };

    const access = new Access(
      `${name}-access`,
      {
        accountId,
        hostname,
        label,
        allowedEmails: s.access.allowedEmails,
        allowedEmailDomains: s.access.allowedEmailDomains,
        countries: s.access.countries,
        sessionDuration: s.access.sessionDuration,
      },
      onCloudflare,
    );
    const tunnel = new Tunnel(
      `${name}-tunnel`,
      {
        accountId,
        zoneId,
        hostname,
        tunnelName: label,
        appPort: args.appPort,
        accessCheck: s.access.teamName ? { teamName: s.access.teamName, audience: access.audience } : undefined,
        // Access first: the public name must never answer without it (the app trusts 127.0.0.1, where cloudflared connects from).
        dnsDependsOn: [access],
      },
      onCloudflare,
    );
    new Connector(
      `${name}-connector`,
      {
        host: args.host,
        tunnel,
        environment: args.environment,
        packageSource: s.connector.packageSource,
        binaryPath: s.connector.binaryPath,
        aptRepository: s.connector.aptRepository,
        aptKeyUrl: s.connector.aptKeyUrl,
        dependsOn: [args.service],
      },
      { parent: this },
    );
    if (s.rateLimit.ownedByThisStack) {
      new RateLimit(
        `${name}-rate-limit`,
        {
          zoneId,
          hostname,
          requestsPerPeriod: s.rateLimit.requestsPerPeriod,
          periodSeconds: s.rateLimit.periodSeconds,
          mitigationTimeoutSeconds: s.rateLimit.mitigationTimeoutSeconds,
          expression: s.rateLimit.expression,
        },
        onCloudflare,
      );
    }

    this.publicUrl = tunnel.hostname.apply((h) => `https://${h}`);
    this.tunnelId = tunnel.tunnelId;
    this.checkToken = access.checkToken;
    this.registerOutputs({ publicUrl: this.publicUrl, tunnelId: this.tunnelId, checkToken: this.checkToken });
  }
}
