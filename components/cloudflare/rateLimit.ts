import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";

export interface RateLimitRule {
  /** Requests one client may send per period before it is blocked. */
  readonly requestsPerPeriod: number;
  /** Counting window in seconds (10, 60, 120, 300, 600 or 3600; a Free zone takes only 10). */
  readonly periodSeconds: number;
  /** How long a client stays blocked, in seconds (a Free zone takes only 10). */
  readonly mitigationTimeoutSeconds: number;
  /** Which requests count, e.g. (http.host eq "<hostname>"). */
  readonly expression: string;
}

/** The ruleset's one rule: block a client (per IP and Cloudflare data centre) above the rate. */
export function rateLimitRule(hostname: string, rule: RateLimitRule) {
  return {
    action: "block",
    description: `ai4artsed: rate limit for ${hostname}`,
    enabled: true,
    expression: rule.expression,
    ratelimit: {
      characteristics: ["cf.colo.id", "ip.src"],
      period: rule.periodSeconds,
      requestsPerPeriod: rule.requestsPerPeriod,
      mitigationTimeout: rule.mitigationTimeoutSeconds,
    },
  };
}

export interface RateLimitArgs extends RateLimitRule {
  /** The zone whose rate-limit ruleset this is. */
  readonly zoneId: string;
  /** Hostname the rule is for (its description). */
  readonly hostname: string;
}

/**
 * The zone's http_ratelimit entry-point ruleset. A zone has exactly one, so exactly one stack
 * may own it (cloudflare.rateLimit.ownedByThisStack); a second stack would overwrite it.
 */
export class RateLimit extends pulumi.ComponentResource {
  public readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: RateLimitArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:cloudflare:RateLimit", name, {}, opts);
    const ruleset = new cloudflare.Ruleset(
      `${name}-ruleset`,
      {
        zoneId: args.zoneId,
        name: "ai4artsed rate limiting",
        description: "Managed by the ai4artsed Pulumi program",
        kind: "zone",
        phase: "http_ratelimit",
        rules: [rateLimitRule(args.hostname, args)],
      },
      { parent: this },
    );
    this.rulesetId = ruleset.id;
    this.registerOutputs({ rulesetId: this.rulesetId });
  }
}
