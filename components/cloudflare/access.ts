import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";

export interface AccessRules {
  /** Who may sign in: any of these emails or email domains. */
  readonly includes: Array<{ email: { email: string } } | { emailDomain: { domain: string } }>;
  /** The country rule when there is one country; several need an Access group (any of them). */
  readonly requires: Array<{ geo: { countryCode: string } }>;
  /** Countries that go into an Access group because a policy's requires are all-of. */
  readonly countryGroup: string[];
}

/** The allow policy's rules: include the emails and domains, require the country (or one of the countries). */
export function accessRules(emails: readonly string[], domains: readonly string[], countries: readonly string[]): AccessRules {
  if (emails.length + domains.length === 0) throw new Error("an Access policy needs at least one email or email domain");
  if (countries.length === 0) throw new Error("an Access policy needs at least one country");
  return {
    includes: [...emails.map((email) => ({ email: { email } })), ...domains.map((domain) => ({ emailDomain: { domain } }))],
    requires: countries.length === 1 ? [{ geo: { countryCode: countries[0] } }] : [],
    countryGroup: countries.length === 1 ? [] : [...countries],
  };
}

export interface AccessArgs {
  /** Cloudflare account that holds the application and policy. */
  readonly accountId: string;
  /** The hostname Access guards, e.g. lab.ai4artsed.org. */
  readonly hostname: string;
  /** Label in the dashboard, e.g. ai4artsed-production. */
  readonly label: string;
  /** Emails admitted. */
  readonly allowedEmails: readonly string[];
  /** Email domains admitted. At least one email or domain is needed. */
  readonly allowedEmailDomains: readonly string[];
  /** Countries a visitor must be in (at least one). */
  readonly countries: readonly string[];
  /** How long a sign-in lasts. */
  readonly sessionDuration: string;
  /** The monitoring dashboards' hostname: a second application behind the same allow policy (people only, no check token). Defaults to none. */
  readonly dashboardsHostname?: string;
}

/** A self-hosted Access application on one hostname, admitting whom its policies admit. */
function selfHostedApplication(
  name: string,
  args: { accountId: string; hostname: string; label: string; sessionDuration: string; policies: Array<pulumi.Input<string>> },
  opts: pulumi.CustomResourceOptions,
) {
  return new cloudflare.ZeroTrustAccessApplication(
    name,
    {
      accountId: args.accountId,
      name: `${args.label} (${args.hostname})`,
      type: "self_hosted",
      domain: args.hostname,
      destinations: [{ type: "public", uri: args.hostname }],
      sessionDuration: args.sessionDuration,
      policies: args.policies.map((id, i) => ({ id, precedence: i + 1 })),
      appLauncherVisible: false,
      httpOnlyCookieAttribute: true,
    },
    opts,
  );
}

/** The credentials of the after-deploy check: Access admits requests that carry them as headers. */
export interface CheckToken {
  readonly clientId: string;
  readonly clientSecret: string;
}

/**
 * Cloudflare Access in front of one hostname: a self-hosted application, its allow policy for
 * people, and a service token with a non-identity policy for the after-deploy check (npm run
 * smoke), which calls the API through the public name as a visitor would. With
 * `dashboardsHostname`, a second application guards the monitoring dashboards with the same allow policy.
 * The app trusts requests from 127.0.0.1 (where cloudflared connects from) as local admin, so
 * this is the only gate in front of its settings page; the token is a secret stack output.
 */
export class Access extends pulumi.ComponentResource {
  public readonly applicationId: pulumi.Output<string>;
  /** The application's audience tag, for cloudflared's token check. */
  public readonly audience: pulumi.Output<string>;
  /** The application; what the public DNS record waits for. */
  public readonly application: cloudflare.ZeroTrustAccessApplication;
  /** The after-deploy check's service token (a secret). */
  public readonly checkToken: pulumi.Output<CheckToken>;
  /** The dashboards' hostname, application (what their DNS record waits for) and audience tag; undefined without `dashboardsHostname`. */
  public readonly dashboards?: { readonly hostname: string; readonly application: cloudflare.ZeroTrustAccessApplication; readonly audience: pulumi.Output<string> };

  constructor(name: string, args: AccessArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("ai4artsed:cloudflare:Access", name, {}, opts);
    const child = { parent: this };
    const sessionDuration = args.sessionDuration;
    const rules = accessRules(args.allowedEmails, args.allowedEmailDomains, args.countries);
    let requires: cloudflare.types.input.ZeroTrustAccessPolicyRequire[] = rules.requires;
    if (rules.countryGroup.length > 0) {
      const group = new cloudflare.ZeroTrustAccessGroup(
        `${name}-countries`,
        { accountId: args.accountId, name: `${args.label} countries`, includes: rules.countryGroup.map((countryCode) => ({ geo: { countryCode } })) },
        child,
      );
      requires = [{ group: { id: group.id } }];
    }
    const policy = new cloudflare.ZeroTrustAccessPolicy(
      `${name}-policy`,
      { accountId: args.accountId, name: `${args.label} allow`, decision: "allow", includes: rules.includes, requires, sessionDuration },
      child,
    );
    // Valid a year (Cloudflare's default); renewed by `pulumi up --replace` of this token (docs/runbook.md: The after-deploy check).
    const token = new cloudflare.ZeroTrustAccessServiceToken(`${name}-check-token`, { accountId: args.accountId, name: `${args.label} after-deploy check`, duration: "8760h" }, child);
    const tokenPolicy = new cloudflare.ZeroTrustAccessPolicy(
      `${name}-check-policy`,
      { accountId: args.accountId, name: `${args.label} after-deploy check`, decision: "non_identity", includes: [{ serviceToken: { tokenId: token.id } }] },
      child,
    );
    const { accountId, hostname, label } = args;
    this.application = selfHostedApplication(`${name}-application`, { accountId, hostname, label, sessionDuration, policies: [policy.id, tokenPolicy.id] }, child);
    if (args.dashboardsHostname) {
      // The same allow policy (a reusable one): whoever may use the app may read its dashboards, nobody else.
      const application = selfHostedApplication(
        `${name}-dashboards-application`,
        { accountId, hostname: args.dashboardsHostname, label: `${label} monitoring`, sessionDuration, policies: [policy.id] },
        child,
      );
      this.dashboards = { hostname: args.dashboardsHostname, application, audience: application.aud };
    }
    this.applicationId = this.application.id;
    this.audience = this.application.aud;
    this.checkToken = pulumi.secret(pulumi.all([token.clientId, token.clientSecret]).apply(([clientId, clientSecret]) => ({ clientId, clientSecret })));
    this.registerOutputs({ applicationId: this.applicationId, audience: this.audience, checkToken: this.checkToken, dashboardsAudience: this.dashboards?.audience });
  }
}
