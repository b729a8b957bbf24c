import * as os from "os";
import * as util from "util";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, PROJECT, readRawConfig } from "./config/load";
import { serverConnection } from "./components/steps/connection";
import { inspectServer, lastActivationReport } from "./components/inspect/deployFacts";
import { denyPortsOf, Environment } from "./components/environment";
import { PythonResolutions } from "./components/release/pythonEnv";
import { AppliedStates } from "./components/providers/drift";

// The SDK knows which keys are secrets but does not declare the function in its types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** Read the stack's config, every problem at once, before anything touches the server. */
function readConfig() {
  const config = new pulumi.Config(PROJECT);
  const { raw, secretSections } = readRawConfig(
    (section) => (section === "environment" || section === "providers" ? config.get(section) : config.getObject<unknown>(section)),
    (section) => isConfigSecret(`${PROJECT}:${section}`),
  );
  return parseStackConfig(pulumi.getStack(), raw, secretSections);
}

/**
 * A problem the user fixes: the SDK shows a RunError's message alone, without a stack trace.
 * It also renders every uncaught error with util.inspect for a tracing span, tracing on or
 * off, which took 12-60 s for a plain RunError in the program's process; this one renders as
 * its message, so a config mistake is reported as soon as it is found.
 */
class UserError extends pulumi.RunError {
  [util.inspect.custom](): string {
    return this.message;
  }
}

/** Problems the user fixes: shown as their message alone. */
async function userFacing<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err));
  }
}

export = async () => {
  const stack = pulumi.getStack();
  const { environment, config } = await userFacing(readConfig);
  // What this stack recorded in its last update: the server's host key when none is set (checked
  // like an OpenSSH known_hosts entry), the venvs' resolutions (a rebuild on a new server installs
  // the versions the old one served) and what it applied of each piece (drift is a server that
  // differs from that, not from a new wish).
  const previous = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`);
  const recordedHostKey = config.server.hostKey ? undefined : ((await previous.getOutputDetails("serverHostKey")).value as string | undefined);
  const inspecting = Date.now();
  // `pulumi up` holds the stack's deploy lock on the server until this process ends.
  const deployLockHolder = pulumi.runtime.isDryRun() ? undefined : `${os.userInfo().username}@${os.hostname()}`;
  const { facts, observed, hostKey, firstUse } = await userFacing(() =>
    inspectServer(stack, environment, config, denyPortsOf(config), { recordedHostKey, deployLockHolder }),
  );
  const lastActivation = lastActivationReport(observed.get("last-activation"), config.app.installDir, config.app.serviceName);
  if (lastActivation) pulumi.log.warn(lastActivation);
  if (firstUse) {
    pulumi.log.warn(
      `server.hostKey is not set: trusting ${hostKey} on first use and recording it (stack output serverHostKey); a later change of the ` +
        `server's key is refused. Pin it instead: pulumi config set --path server.hostKey "<the key, checked on the server's console>"`,
    );
  }
  // For the engine's log (-v=3 and up): the benchmark splits node's start from the SSH session.
  pulumi.log.debug(`ai4artsed timing: node started ${Math.round(process.uptime() * 1000 - (Date.now() - inspecting))} ms before the SSH inspection, which took ${Date.now() - inspecting} ms`);
  const connection = serverConnection({ ...config.server, hostKey }, config.providers, facts.layoutId);
  const recordedResolutions = previous.getOutput("pythonResolutions") as pulumi.Output<PythonResolutions | undefined>;
  const appliedStates = previous.getOutput("driftBaseline") as pulumi.Output<AppliedStates | undefined>;
  const env = new Environment(environment, { environment, stack, config, facts, observed, connection, recordedResolutions, appliedStates });
  return {
    url: env.url,
    revision: env.revision,
    releasePath: env.releasePath,
    serviceName: env.serviceName,
    pythonResolutions: env.pythonResolutions,
    driftBaseline: env.driftBaseline,
    serverHostKey: hostKey,
    ...(env.publicUrl ? { publicUrl: env.publicUrl } : {}),
    ...(env.accessCheckToken ? { accessCheckToken: env.accessCheckToken } : {}),
    ...(env.dashboardsUrl ? { dashboardsUrl: env.dashboardsUrl } : {}),
  };
};
