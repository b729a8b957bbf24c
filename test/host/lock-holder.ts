/**
 * A `pulumi up` stand-in for the deploy lock's tests, run as a process of its own: takes the
 * stack's deploy lock as the program does (inspectServer with a holder), says "held" on stdout,
 * waits until its stdin ends, and then ends as the program does: its event loop runs dry.
 * Argument: the server (JSON of a TestServer).
 */
import { parseStackConfig } from "../../config/load";
import { inspectServer } from "../../components/inspect/deployFacts";
import { SERVER_REPO } from "../../tools/testserver/client";
import { rawConfig, SECRET_SECTIONS } from "../unit/fixtures";

async function main(): Promise<void> {
  const server = JSON.parse(process.argv[2]);
  const serverConfig = { address: server.host, port: server.port, user: server.user, privateKey: server.privateKey, hostKey: server.hostKey };
  const { environment, config } = parseStackConfig("development", rawConfig({ server: serverConfig, app: { repoUrl: SERVER_REPO } }), SECRET_SECTIONS);
  await inspectServer("development", environment, config, [17802], { deployLockHolder: "lock-holder@test" });
  process.stdout.write("held\n");
  process.stdin.resume();
  process.stdin.on("end", () => process.stdin.pause());
}

main();
