/** Shared inputs for unit tests: a valid raw config per environment and resolved facts. */
import { RawConfig } from "../../config/load";
import { DeployFacts, SshOpener } from "../../components/inspect/deployFacts";
import { SshResult, SshSession } from "../../lib/ssh";

export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

export function rawConfig(
  overrides: { server?: object; app?: object; host?: object; monitor?: object; cloudflare?: object; backup?: object; environment?: string } = {},
): RawConfig {
  return {
    ...(overrides.environment ? { environment: overrides.environment } : {}),
    server: { address: "10.0.0.2", privateKey: TEST_PRIVATE_KEY, hostKey: TEST_HOST_KEY, ...overrides.server },
    app: { repoUrl: "https://example.org/ai4artsed.git", ...overrides.app },
    ...(overrides.host ? { host: overrides.host } : {}),
    ...(overrides.monitor ? { monitor: overrides.monitor } : {}),
    ...(overrides.cloudflare ? { cloudflare: overrides.cloudflare } : {}),
    ...(overrides.backup ? { backup: overrides.backup } : {}),
  };
}

/** A Cloudflare section as an operator sets it up (the API itself is mocked: test/unit/mocks.ts). */
export const TEST_CLOUDFLARE = {
  enabled: true,
  accountId: "0123456789abcdef0123456789abcdef",
  zoneId: "fedcba9876543210fedcba9876543210",
  apiToken: "cf-api-token-0123456789abcdefghijklmnop",
  access: { allowedEmails: ["teacher@example.org"], allowedEmailDomains: ["school.example"] },
};

export const SECRET_SECTIONS = new Set(["server", "app", "monitor", "cloudflare", "backup"]);

export const FACTS: DeployFacts = {
  commit: "1111111111111111111111111111111111111111",
  requirementsBlob: "2222222222222222222222222222222222222222",
  frontendTree: "3333333333333333333333333333333333333333",
  serviceTrees: { "gpu-service": "5555555555555555555555555555555555555555" },
  layoutId: "4444444444444444",
};

/**
 * A stand-in for the program-time SSH session: `answer` gets each command the inspection sends
 * (a held one too: it is held when its stdout has the ready line) and returns its result.
 */
export function fakeSession(answer: (command: string) => SshResult): { open: SshOpener; commands: string[] } {
  const commands: string[] = [];
  const session: SshSession = {
    run: async (command) => {
      commands.push(command);
      return answer(command);
    },
    hold: async (command, ready) => {
      commands.push(command);
      const result = answer(command);
      if (result.stdout.split("\n").includes(ready)) return result.stdout;
      throw Object.assign(new Error(`'${ready}' never came`), { result });
    },
    detach: () => undefined,
    forward: async () => {
      throw new Error("the program never forwards a port");
    },
    close: () => undefined,
  };
  return { open: async () => session, commands };
}

/** What resolve.sh prints for FACTS. */
export const FACTS_STDOUT = `commit=${"1".repeat(40)}\nrequirements=${"2".repeat(40)}\nfrontend=${"3".repeat(40)}\n`;
