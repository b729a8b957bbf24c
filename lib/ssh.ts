import { Client } from "ssh2";

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey: string;
  /** OpenSSH public key line of the server; when set, any other key is refused. */
  readonly hostKey?: string;
}

export interface SshResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The key blob of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"). */
export function hostKeyBlob(line: string): Buffer {
  const [, base64] = line.trim().split(/\s+/);
  return Buffer.from(base64 ?? "", "base64");
}

/** The OpenSSH public key line ("ssh-ed25519 AAAA...") of a key blob as the server sends it. */
export function hostKeyLine(blob: Buffer): string {
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return `${blob.subarray(4, 4 + typeLength).toString("latin1")} ${blob.toString("base64")}`;
}

export interface RunOptions {
  /** Written to the command's stdin, then closed. */
  readonly stdin?: string;
  /** Told the key the server presented, as a public key line, before it is checked. */
  readonly presentedHostKey?: (line: string) => void;
  /** Defaults to 120 s. */
  readonly timeoutMs?: number;
}

/** Run one command over SSH with a pinned host key; resolves with its exit code and output. */
export function runOverSsh(target: SshTarget, command: string, options: RunOptions = {}): Promise<SshResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const where = `${target.user}@${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    // Chunks are decoded together: a multi-byte character may straddle two of them.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => {
      client.end();
      reject(new Error(`SSH to ${where} timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    client
      .on("ready", () => {
        client.exec(command, (err, stream) => {
          if (err) {
            clearTimeout(timer);
            client.end();
            return reject(new Error(`SSH to ${where}: ${err.message}`));
          }
          stream.on("data", (d: Buffer) => stdout.push(d));
          stream.stderr.on("data", (d: Buffer) => stderr.push(d));
          stream.on("close", (code: number | null) => {
            clearTimeout(timer);
            client.end();
            resolve({ code: code ?? 255, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
          });
          stream.end(options.stdin ?? "");
        });
      })
      .on("error", (err) => {
        clearTimeout(timer);
        const hint = /host key|verification/i.test(err.message)
          ? "; the server's host key does not match server.hostKey: check it with ssh-keyscan before you trust it"
          : "; check server.address, server.port, server.user and server.privateKey";
        reject(new Error(`cannot connect to ${where}: ${err.message}${hint}`));
      })
      .connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: 20_000,
        // A deploy's watch window prints nothing for minutes: keepalives hold an idle NAT open
        // and notice a dead connection within a minute.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (key: Buffer) => {
          options.presentedHostKey?.(hostKeyLine(key));
          return target.hostKey ? key.equals(hostKeyBlob(target.hostKey)) : true;
        },
      });
  });
}
