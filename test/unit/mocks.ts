/**
 * Mocked Pulumi runtime (pulumi.runtime.setMocks): no engine, no server. Records every
 * resource's inputs by name so tests can read the graph a stack would register.
 */
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { parseStackConfig } from "../../config/load";
import { serverConnection } from "../../components/steps/connection";
import { DeployFacts } from "../../components/inspect/deployFacts";
import { ServerObservation } from "../../components/providers/drift";
import { Environment } from "../../components/environment";
import { FACTS, rawConfig, SECRET_SECTIONS } from "./fixtures";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A mocked input marked secret arrives wrapped in the SDK's secret signature. */
export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_SIG in value;
}

function unwrapSecrets(value: any): any {
  if (isSecretInput(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}

export interface Recorded {
  readonly type: string;
  readonly name: string;
  /** Inputs with secrets unwrapped. */
  readonly inputs: Record<string, any>;
  /** Input names that arrived marked secret. */
  readonly secretInputs: ReadonlySet<string>;
  /** The explicit provider reference (urn::id), when the resource has one. */
  readonly provider?: string;
}

export const registered = new Map<string, Recorded>();
export const MOCK_SECRET_KEY = "mock-secret-key-0123456789";
export const MOCK_TUNNEL_SECRET = "bW9jay10dW5uZWwtc2VjcmV0LTMyLWJ5dGVzLWxvbmc=";
/** The audience tag the mocked Cloudflare provider hands out for an Access application: one of its own per application. */
export function mockAccessAud(applicationName: string): string {
  return `mock-audience-of-${applicationName}`;
}
/** What Cloudflare hands out for a service token on create. */
export const MOCK_CHECK_TOKEN = { clientId: "mock-client-id.access", clientSecret: "mock-client-secret-0123456789" };
/** The token the mocked Cloudflare provider hands out for a tunnel (shaped like a real one). */
export function mockTunnelToken(tunnelId: string): string {
  return Buffer.from(JSON.stringify({ a: "mock-account-tag", t: tunnelId, s: MOCK_TUNNEL_SECRET })).toString("base64");
}

/** Invokes (data sources) the program made, in order. */
export const invoked: Array<{ token: string; inputs: Record<string, any>; provider?: string }> = [];

/** Outputs the real providers compute that the program reads. */
function computedState(type: string, name: string): Record<string, any> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { result: MOCK_SECRET_KEY };
    case "random:index/randomBytes:RandomBytes":
      return { base64: MOCK_TUNNEL_SECRET };
    case "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication":
      return { aud: mockAccessAud(name) };
    case "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken":
      return MOCK_CHECK_TOKEN;
    // A drift check's first apply finds nothing to repair, as the real provider's create does.
    case "pulumi-nodejs:dynamic/ai4artsed:DriftCheck":
      return { repairs: 0 };
    default:
      return { stdout: "" };
  }
}

pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered.set(args.name, {
        type: args.type,
        name: args.name,
        inputs: unwrapSecrets(args.inputs),
        secretInputs: new Set(Object.keys(args.inputs).filter((k) => isSecretInput(args.inputs[k]))),
        provider: args.provider,
      });
      return { id: `${args.name}-id`, state: { ...args.inputs, ...computedState(args.type, args.name) } };
    },
    call(args) {
      invoked.push({ token: args.token, inputs: args.inputs, provider: args.provider });
      if (args.token === "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken") {
        return { ...args.inputs, token: mockTunnelToken(args.inputs.tunnelId) };
      }
      return {};
    },
  },
  "ai4artsed",
  "unit",
  false,
);

/** Register one environment's graph under `name` and wait until every resource is in. */
export async function buildStack(
  stack: "production" | "development",
  overrides: Parameters<typeof rawConfig>[0] = {},
  facts: DeployFacts = FACTS,
  name: string = stack,
  observed?: ServerObservation,
): Promise<Map<string, Recorded>> {
  const { environment, config } = parseStackConfig(stack, rawConfig(overrides), SECRET_SECTIONS);
  const env = new Environment(name, { environment, stack, config, facts, observed, connection: serverConnection(config.server, config.providers, facts.layoutId) });
  await new Promise((resolve) => pulumi.all([env.url, env.revision, env.releasePath, env.serviceName]).apply(resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  return new Map([...registered].filter(([key]) => key.startsWith(`${name}-`) || key === name));
}

/** The script a recorded `bash -c '<script>'` command line runs, unquoted by bash itself. */
export function scriptOf(commandLine: string | undefined): string | undefined {
  if (commandLine === undefined) return undefined;
  assert.match(commandLine, /^bash -c /);
  return execFileSync("bash", ["-c", `printf %s ${commandLine.slice("bash -c ".length)}`]).toString();
}

/** A registered resource by name (and type, when given); fails naming what there is. */
export function recorded(graph: Map<string, Recorded>, name: string, type?: string): Recorded {
  const found = graph.get(name);
  assert.ok(found, `no resource ${name}; have ${[...graph.keys()].join(", ")}`);
  if (type) assert.equal(found.type, type, name);
  return found;
}

/** A recorded remote step: its inputs, create and delete as the scripts they run, and which inputs were secret. */
export function remoteStep(graph: Map<string, Recorded>, name: string): Record<string, any> {
  const found = recorded(graph, name);
  return { ...found.inputs, create: scriptOf(found.inputs.create), delete: scriptOf(found.inputs.delete), secretInputs: found.secretInputs };
}
