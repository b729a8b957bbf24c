/** Shared inputs for unit tests: a valid raw config per environment and resolved facts. */
import { RawConfig } from "../../config/load";
import { DeployFacts } from "../../components/inspect/deployFacts";

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

export const SECRET_SECTIONS = new Set(["server", "monitor", "cloudflare", "backup"]);

export const FACTS: DeployFacts = {
  commit: "1111111111111111111111111111111111111111",
  requirementsBlob: "2222222222222222222222222222222222222222",
  frontendTree: "3333333333333333333333333333333333333333",
  layoutId: "4444444444444444",
};
