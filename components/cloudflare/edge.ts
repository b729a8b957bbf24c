import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { EnvironmentName } from "../../config/defaults";
import { StackConfig } from "../../config/schema";
import { Host } from "../host/host";
import { MONITORING_PORTS } from "../operations/monitoring";
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
  /** The monitoring dashboards' hostname (host.monitoring.hostname), when this stack runs them. Defaults to none. */
  readonly dashboardsHostname?: string;
}

function required<T>(value: T | undefined, key: string, parent: pulumi.Resource): T {
  if (value === undefined) throw new pulumi.ResourceError(`\`cloudflare.${key}\` is required when Cloudflare is enabled`, parent);
  return value;
}

/**
 * Everything between the internet and the server: an explicit Cloudflare provider (the stack's
 * API token), Access, the tunnel and its DNS name (and the monitoring dashboards' with
 * `dashboardsHostname`), the connector on the server, rate limiting.
 * Loaded only when cloudflare.enabled is true.
 */
export class Edge extends pulumi.ComponentResource {
  /** https://<hostname>, known once the DNS record exists. */
  public readonly publicUrl: pulumi.Output<string>;
  public readonly tunnelId: pulumi.Output<string>;
  /** The after-deploy check's Access service token (a secret). */
  public readonly checkToken: pulumi.Output<CheckToken>;
  /** https://<dashboards hostname>, known once its DNS record exists; undefined without `dashboardsHostname`. */
  public readonly dashboardsUrl?: pulumi.Output<string>;

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
        dashboardsHostname: args.dashboardsHostname,
      },
      onCloudflare,
    );
    // cloudflared checks each request's Access token for its hostname's application when the team name is set.
    const originCheck = (audience: pulumi.Output<string>) => (s.access.teamName ? { teamName: s.access.teamName, audience } : undefined);
    const dashboards = access.dashboards;
    const tunnel = new Tunnel(
      `${name}-tunnel`,
      {
        accountId,
        zoneId,
        hostname,
        tunnelName: label,
        appPort: args.appPort,
        accessCheck: originCheck(access.audience),
        // Access first: the public name must never answer without it (the app trusts 127.0.0.1, where cloudflared connects from).
        dnsDependsOn: [access],
        // Prometheus has no sign-in of its own: its name, too, answers only once its Access application exists.
        dashboards: dashboards && {
          hostname: dashboards.hostname,
          port: MONITORING_PORTS.prometheus,
          accessCheck: originCheck(dashboards.audience),
          dnsDependsOn: [dashboards.application],
        },
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
    this.dashboardsUrl = tunnel.dashboardsHostname?.apply((h) => `https://${h}`);
    this.registerOutputs({ publicUrl: this.publicUrl, tunnelId: this.tunnelId, checkToken: this.checkToken, dashboardsUrl: this.dashboardsUrl });
  }
}
