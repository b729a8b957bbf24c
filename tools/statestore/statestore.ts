/**
 * A shared, locked home for the stacks' Pulumi state, as a team keeps it in an S3-compatible
 * bucket (docs/runbook.md: State off the laptop): SeaweedFS's S3 server, built from its Go module by
 * ensure-weed.sh, runs on a test server with one bucket and one key pair.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import { sh, TestServer } from "../testserver/client";
import { ensured } from "../ensure";

export const STATE_BUCKET = "ai4artsed-state";
const S3_PORT = 8333;
const WEED = "/usr/local/bin/weed";

export interface StateStore {
  /** The backend URL the operators put in Pulumi.yaml's backend.url. */
  readonly url: string;
  /** The bucket's key pair, as the operators export it. */
  readonly credentials: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
  /** The stack's lock objects in the bucket (the engine's locks). */
  locks(stack: string): Promise<string[]>;
}

async function run(server: TestServer, command: string, stdin?: string): Promise<string> {
  const result = await sh(server, command, stdin);
  if (result.code !== 0) throw new Error(`${command} failed on ${server.name} (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

/** Build (once, cached) and install weed on the server, start its S3 server, make the bucket. */
export async function startStateStore(server: TestServer): Promise<StateStore> {
  const weed = ensured("tools/statestore/ensure-weed.sh");
  execFileSync("scp", ["-q", "-i", server.keyFile, "-o", `UserKnownHostsFile=${server.knownHosts}`, "-P", String(server.port), weed, `${server.user}@${server.host}:${WEED}`]);
  const credentials = { AWS_ACCESS_KEY_ID: `ai4artsed${crypto.randomBytes(4).toString("hex")}`, AWS_SECRET_ACCESS_KEY: crypto.randomBytes(20).toString("hex") };
  const identities = {
    identities: [{ name: "operators", credentials: [{ accessKey: credentials.AWS_ACCESS_KEY_ID, secretKey: credentials.AWS_SECRET_ACCESS_KEY }], actions: ["Admin", "Read", "List", "Tagging", "Write"] }],
  };
  await run(server, "install -d -m 0700 /etc/state-store /srv/state-store && cat >/etc/state-store/s3.json && chmod 0600 /etc/state-store/s3.json", JSON.stringify(identities));
  await run(
    server,
    `systemd-run --unit=state-store --property=Restart=on-failure ${WEED} server -dir=/srv/state-store -ip=127.0.0.1 -ip.bind=0.0.0.0 ` +
      `-master.volumeSizeLimitMB=64 -s3 -s3.port=${S3_PORT} -s3.config=/etc/state-store/s3.json`,
  );
  await run(server, `for i in $(seq 120); do curl -s -o /dev/null http://127.0.0.1:${S3_PORT}/ && exit 0; sleep 0.5; done; journalctl -u state-store -n 20 --no-pager; exit 1`);
  await run(
    server,
    `for i in $(seq 60); do printf 's3.bucket.create -name ${STATE_BUCKET}\\n' | ${WEED} shell -master=127.0.0.1:9333 >/dev/null 2>&1; ` +
      `printf 's3.bucket.list\\n' | ${WEED} shell -master=127.0.0.1:9333 2>/dev/null | grep -q ${STATE_BUCKET} && exit 0; sleep 1; done; exit 1`,
  );
  return {
    // SeaweedFS sends no response checksums; the SDK would warn at every read.
    url: `s3://${STATE_BUCKET}?endpoint=http://${server.host}:${S3_PORT}&region=us-east-1&use_path_style=true&response_checksum_validation=when_required`,
    credentials,
    async locks(stack: string): Promise<string[]> {
      const listing = await run(server, `printf 'fs.ls /buckets/${STATE_BUCKET}/.pulumi/locks/organization/ai4artsed/${stack}\\n' | ${WEED} shell -master=127.0.0.1:9333 2>/dev/null || true`);
      return listing.split("\n").filter((line) => line.endsWith(".json"));
    },
  };
}
