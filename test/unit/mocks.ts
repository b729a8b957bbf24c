/**
 * Mocked Pulumi runtime (pulumi.runtime.setMocks): no engine, no server. Records every
 * resource's inputs by name so tests can read the graph a stack would register.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../../config/load";
import { serverConnection } from "../../components/connection";
import { DeployFacts } from "../../components/deployFacts";
import { ServerObservation } from "../../components/drift";
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
}

export const registered = new Map<string, Recorded>();
export const MOCK_SECRET_KEY = "mock-secret-key-0123456789";

pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered.set(args.name, {
        type: args.type,
        name: args.name,
        inputs: unwrapSecrets(args.inputs),
        secretInputs: new Set(Object.keys(args.inputs).filter((k) => isSecretInput(args.inputs[k]))),
      });
      const state = args.type === "random:index/randomPassword:RandomPassword" ? { ...args.inputs, result: MOCK_SECRET_KEY } : { ...args.inputs, stdout: "" };
      return { id: `${args.name}-id`, state };
    },
    call: () => ({}),
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
  const env = new Environment(name, { environment, config, facts, observed, connection: serverConnection(config.server) });
  await new Promise((resolve) => pulumi.all([env.url, env.revision, env.releasePath, env.serviceName]).apply(resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  return new Map([...registered].filter(([key]) => key.startsWith(`${name}-`) || key === name));
}
