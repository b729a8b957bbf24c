import * as pulumi from "@pulumi/pulumi";
import { CONFIG_SECTIONS, parseStackConfig, PROJECT, RawConfig } from "./config/load";
import { serverConnection } from "./components/connection";
import { inspectServer } from "./components/deployFacts";
import { denyPortsOf, Environment } from "./components/environment";

// The SDK knows which keys are secrets but does not declare the function in its types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** Read the stack's config, every problem at once, before anything touches the server. */
function readConfig() {
  const config = new pulumi.Config(PROJECT);
  const raw: RawConfig = {};
  const secretSections = new Set<string>();
  for (const section of CONFIG_SECTIONS) {
    const value = section === "environment" || section === "providers" ? config.get(section) : config.getObject<unknown>(section);
    if (value !== undefined) raw[section] = value;
    if (isConfigSecret(`${PROJECT}:${section}`)) secretSections.add(section);
  }
  return parseStackConfig(pulumi.getStack(), raw, secretSections);
}

/** Problems the user fixes: shown as their message alone, without a stack trace. */
async function userFacing<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new pulumi.RunError(err instanceof Error ? err.message : String(err));
  }
}

export = async () => {
  const stack = pulumi.getStack();
  const { environment, config } = await userFacing(readConfig);
  const { facts, observed } = await userFacing(() => inspectServer(stack, environment, config, denyPortsOf(config)));
  const connection = serverConnection(config.server, config.providers, facts.layoutId);
  const env = new Environment(environment, { environment, stack, config, facts, observed, connection });
  return {
    url: env.url,
    revision: env.revision,
    releasePath: env.releasePath,
    serviceName: env.serviceName,
    ...(env.publicUrl ? { publicUrl: env.publicUrl } : {}),
  };
};
