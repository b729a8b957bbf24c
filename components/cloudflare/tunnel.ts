import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import * as random from "@pulumi/random";

/** cloudflared's connections to the app (seconds). */
export interface OriginSettings {
  /** Time to open a TCP connection to the app. Defaults to 60. */
  readonly connectTimeout: number;
  /** Idle keep-alive connections kept to the app. Defaults to 100. */
  readonly keepAliveConnections: number;
  /** Idle time after which a keep-alive connection is closed. Defaults to 90. */
  readonly keepAliveTimeout: number;
  /** Interval of TCP keep-alive probes. Defaults to 30. */
  readonly tcpKeepAlive: number;
}

export const DEFAULT_ORIGIN: OriginSettings = { connectTimeout: 60, keepAliveConnections: 100, keepAliveTimeout: 90, tcpKeepAlive: 30 };

/** An Access application whose token cloudflared checks on every request. */
export interface OriginAccessCheck {
  /** Zero Trust team name (<team>.cloudflareaccess.com). */
  readonly teamName: string;
  /** The application's audience tag. */
  readonly audience: pulumi.Input<string>;
}

/** A public hostname the tunnel serves and the port on the server's loopback it reaches. */
export interface IngressRoute {
  /** e.g. lab.ai4artsed.org. */
  readonly hostname: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Make cloudflared admit only requests with this Access application's token. Defaults to no check at the connector. */
  readonly accessCheck?: OriginAccessCheck;
}

/** The tunnel's ingress: each hostname to its port on loopback, in order, then the catch-all 404 (which must come last). */
export function tunnelIngress(routes: readonly IngressRoute[], origin: OriginSettings) {
  return [
    ...routes.map(({ hostname, port, accessCheck }) => ({
      hostname,
      service: `http://127.0.0.1:${port}`,
      originRequest: {
        ...origin,
        ...(accessCheck ? { access: { required: true, teamName: accessCheck.teamName, audTags: [accessCheck.audience] } } : {}),
      },
    })),
    { service: "http_status:404" },
  ];
}

export interface TunnelArgs {
  /** Cloudflare account that holds the tunnel. */
  readonly accountId: string;
  /** Zone of the hostname; holds the CNAME. */
  readonly zoneId: string;
  /** Public hostname the tunnel serves, e.g. lab.ai4artsed.org. */
  readonly hostname: string;
  /** The tunnel's name in the dashboard, e.g. ai4artsed-production. */
  readonly tunnelName: string;
  /** Local port of the app; ingress goes to http://127.0.0.1:<port>. */
  readonly appPort: number;
  /** Make cloudflared admit only requests with this Access application's token. Defaults to no check at the connector. */
  readonly accessCheck?: OriginAccessCheck;
  /** What the public DNS record waits for, e.g. the Access application, so the name never answers unguarded. Defaults to nothing. */
  readonly dnsDependsOn?: pulumi.Resource[];
  /** The monitoring dashboards' own hostname, after the app's in the ingress, with a CNAME that waits for `dnsDependsOn`. Defaults to none. */
  readonly dashboards?: IngressRoute & { readonly dnsDependsOn: pulumi.Resource[] };
}

/**
 * A remotely managed cloudflared tunnel (config source Cloudflare): a random tunnel secret,
 * ingress for the app's hostname (and the dashboards', when given) with a final 404, a proxied
 * CNAME to the tunnel for each, and the tunnel's token (a secret) for the connector.
 */
export class Tunnel extends pulumi.ComponentResource {
  public readonly tunnelId: pulumi.Output<string>;
  /** `<tunnel id>.cfargotunnel.com`, the CNAME's target. */
  public readonly cnameTarget: pulumi.Output<string>;
  /** The connector's token; a secret. */
  public readonly token: pulumi.Output<string>;
  public readonly hostname: pulumi.Output<string>;
  /** The dashboards' hostname, known once its DNS record exists; undefined without `dashboards`. */
  public readonly dashboardsHostname?: pulumi.Output<string>;

  constructor(name: string, args: TunnelArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:cloudflare:Tunnel", name, {}, opts);
    const child = { parent: this };
    const secret = new random.RandomBytes(`${name}-secret`, { length: 32 }, child);
    const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
      `${name}-cloudflared`,
      { accountId: args.accountId, name: args.tunnelName, configSrc: "cloudflare", tunnelSecret: pulumi.secret(secret.base64) },
      child,
    );
    const routes: IngressRoute[] = [{ hostname: args.hostname, port: args.appPort, accessCheck: args.accessCheck }, ...(args.dashboards ? [args.dashboards] : [])];
    new cloudflare.ZeroTrustTunnelCloudflaredConfig(
      `${name}-config`,
      {
        accountId: args.accountId,
        tunnelId: tunnel.id,
        source: "cloudflare",
        config: { ingresses: tunnelIngress(routes, DEFAULT_ORIGIN) },
      },
      child,
    );
    this.cnameTarget = pulumi.interpolate`${tunnel.id}.cfargotunnel.com`;
    const cname = (resourceName: string, hostname: string, dependsOn: pulumi.Resource[]) =>
      new cloudflare.DnsRecord(
        resourceName,
        {
          zoneId: args.zoneId,
          name: hostname,
          type: "CNAME",
          content: this.cnameTarget,
          proxied: true,
          ttl: 1,
          comment: `ai4artsed tunnel ${args.tunnelName}; managed by Pulumi`,
        },
        { parent: this, dependsOn },
      );
    const dns = cname(`${name}-dns`, args.hostname, args.dnsDependsOn ?? []);
    // The invoke takes the explicit provider from this component's parents.
    const token = cloudflare.getZeroTrustTunnelCloudflaredTokenOutput({ accountId: args.accountId, tunnelId: tunnel.id }, { parent: this });
    this.token = pulumi.secret(token.token);
    this.tunnelId = tunnel.id;
    this.hostname = dns.name.apply(() => args.hostname);
    if (args.dashboards) {
      const { hostname, dnsDependsOn } = args.dashboards;
      this.dashboardsHostname = cname(`${name}-dashboards-dns`, hostname, dnsDependsOn).name.apply(() => hostname);
    }
    this.registerOutputs({ tunnelId: this.tunnelId, cnameTarget: this.cnameTarget, token: this.token, hostname: this.hostname, dashboardsHostname: this.dashboardsHostname });
  }
}
