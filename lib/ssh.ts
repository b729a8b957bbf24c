import * as net from "net";
import { Client, ClientChannel } from "ssh2";

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

export interface ConnectOptions {
  /** Told the key the server presented, as a public key line, before it is checked. */
  readonly presentedHostKey?: (line: string) => void;
  /**
   * The session may be detached (SshSession.detach): it keeps no timer of its own, so its
   * keepalives are TCP's alone. Defaults to false: SSH keepalives besides.
   */
  readonly detachable?: boolean;
}

export interface RunOptions extends ConnectOptions {
  /** Written to the command's stdin, then closed. */
  readonly stdin?: string;
  /** Defaults to 120 s. */
  readonly timeoutMs?: number;
  /** Passed the command's output as it comes (a long command an operator watches), besides the result. */
  readonly live?: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
}

/** Idle time before a keepalive: an idle NAT stays open, and a dead connection is noticed within a minute. */
const KEEPALIVE_MS = 15_000;
/** How long a session's disconnect may take before its socket is dropped. */
const DISCONNECT_WAIT_MS = 5_000;
/** SSH keepalives unanswered before the connection counts as dead. */
const KEEPALIVE_COUNT_MAX = 4;

/** Detached sessions, each closed when the process would exit: one process listener for all (a test process holds many). */
const closedAtExit = new Set<() => void>();
process.on("beforeExit", () => {
  const pending = [...closedAtExit];
  closedAtExit.clear();
  for (const close of pending) close();
});

/** One SSH connection with a pinned host key; each command runs on a channel of its own. */
export interface SshSession {
  /** Run one command; resolves with its exit code and output (the session stays open). */
  run(command: string, options?: Pick<RunOptions, "stdin" | "timeoutMs" | "live">): Promise<SshResult>;
  /**
   * Start a command that holds something on the server for as long as this session lives (a
   * lock): resolves with what it printed once a line of its stdout is `ready`; rejects with its
   * result when it exits before.
   */
  hold(command: string, ready: string): Promise<string>;
  /**
   * Keep the session for as long as the process runs without keeping the process alive: once
   * nothing else is left to do, the session is closed (SSH's own disconnect, then TCP's).
   */
  detach(): void;
  /**
   * A port on this machine's loopback that reaches `remotePort` on the server's loopback through
   * the session (as `ssh -L`); resolves with the local port. It closes with the session.
   */
  forward(remotePort: number): Promise<number>;
  close(): void;
}

function collect(stream: ClientChannel, onClose: (result: SshResult) => void, onStdout?: (text: string) => void): void {
  // Chunks are decoded together: a multi-byte character may straddle two of them.
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  stream.on("data", (d: Buffer) => {
    stdout.push(d);
    onStdout?.(Buffer.concat(stdout).toString("utf8"));
  });
  stream.stderr.on("data", (d: Buffer) => stderr.push(d));
  stream.on("close", (code: number | null) =>
    onClose({ code: code ?? 255, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") }),
  );
}

/** Connection refusals (sshd restarting: an openssh upgrade, a reload) are tried again after these waits. */
const RETRY_AFTER_MS = [500, 1000, 2000, 4000];

/**
 * Open an SSH session. A deploy's steps print nothing for minutes: keepalives every 15 s (SSH's
 * and TCP's) hold an idle NAT open and notice a dead connection within a minute.
 */
export async function openSsh(target: SshTarget, options: ConnectOptions = {}): Promise<SshSession> {
  for (const wait of RETRY_AFTER_MS) {
    try {
      return await connect(target, options);
    } catch (err) {
      if (!/ECONNREFUSED|ECONNRESET|before handshake/.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  return connect(target, options);
}

function connect(target: SshTarget, options: ConnectOptions): Promise<SshSession> {
  const where = `${target.user}@${target.host}:${target.port}`;
  const client = new Client();
  const socket = net.connect({ host: target.host, port: target.port });
  socket.setKeepAlive(true, KEEPALIVE_MS);
  let ready = false;
  let lost: Error | undefined;
  const failures = new Set<(err: Error) => void>();
  // SSH's disconnect, then TCP's FIN. A server that no longer answers (the network went, the
  // machine is gone) never acks it: the socket is dropped after a while rather than kept until
  // TCP gives up, many minutes, holding the process open.
  const endGracefully = () => {
    client.end();
    const giveUp = setTimeout(() => socket.destroy(), DISCONNECT_WAIT_MS);
    giveUp.unref();
    socket.once("close", () => clearTimeout(giveUp));
  };
  const session: SshSession = {
    run(command, runOptions = {}) {
      const timeoutMs = runOptions.timeoutMs ?? 120_000;
      return new Promise((resolve, reject) => {
        const fail = (err: Error) => {
          clearTimeout(timer);
          reject(err);
        };
        const timer = setTimeout(() => {
          failures.delete(fail);
          client.end();
          reject(new Error(`SSH to ${where} timed out after ${timeoutMs / 1000}s`));
        }, timeoutMs);
        if (lost) return fail(lost);
        failures.add(fail);
        client.exec(command, (err, stream) => {
          if (err) return fail(new Error(`SSH to ${where}: ${err.message}`));
          if (runOptions.live) {
            stream.on("data", (d: Buffer) => runOptions.live!.stdout.write(d));
            stream.stderr.on("data", (d: Buffer) => runOptions.live!.stderr.write(d));
          }
          collect(stream, (result) => {
            failures.delete(fail);
            clearTimeout(timer);
            resolve(result);
          });
          stream.end(runOptions.stdin ?? "");
        });
      });
    },
    hold(command, readyLine) {
      return new Promise((resolve, reject) => {
        if (lost) return reject(lost);
        failures.add(reject);
        client.exec(command, (err, stream) => {
          if (err) return reject(new Error(`SSH to ${where}: ${err.message}`));
          let held = false;
          collect(
            stream,
            (result) => {
              failures.delete(reject);
              if (!held) reject(Object.assign(new Error(`'${readyLine}' never came: exit ${result.code}`), { result }));
            },
            (stdout) => {
              if (!held && stdout.split("\n").includes(readyLine)) {
                held = true;
                failures.delete(reject);
                resolve(stdout);
              }
            },
          );
        });
      });
    },
    detach() {
      socket.unref();
      // A graceful close, not the FIN of an exiting process alone: a firewall enabled while the
      // session was open (the first deploy's ufw) drops a FIN it never saw the connection of, and
      // the server would hold what the session holds for hours. SSH's messages pass it.
      const closeAtExit = () => {
        socket.ref();
        endGracefully();
      };
      closedAtExit.add(closeAtExit);
      socket.once("close", () => closedAtExit.delete(closeAtExit));
    },
    forward(remotePort) {
      const listener = net.createServer((local) => {
        client.forwardOut("127.0.0.1", 0, "127.0.0.1", remotePort, (err, channel) => {
          if (err) {
            process.stderr.write(`SSH to ${where}: forwarding to port ${remotePort} failed: ${err.message}\n`);
            return local.destroy();
          }
          local.pipe(channel).pipe(local);
          local.on("error", () => channel.close());
          channel.on("error", () => local.destroy());
        });
      });
      client.once("close", () => listener.close());
      return new Promise((resolve, reject) => {
        listener.once("error", reject);
        listener.listen(0, "127.0.0.1", () => resolve((listener.address() as net.AddressInfo).port));
      });
    },
    close() {
      endGracefully();
    },
  };
  return new Promise((resolve, reject) => {
    client
      .on("ready", () => {
        ready = true;
        resolve(session);
      })
      .on("error", (err) => {
        if (ready) {
          // After the handshake: the connection was lost; every command still running fails.
          lost = new Error(`the SSH connection to ${where} was lost: ${err.message}`);
          failures.forEach((fail) => fail(lost!));
          failures.clear();
          return;
        }
        const hint = /host key|verification/i.test(err.message)
          ? "; the server's host key does not match server.hostKey: check it with ssh-keyscan before you trust it"
          : "; check server.address, server.port, server.user and server.privateKey";
        reject(new Error(`cannot connect to ${where}: ${err.message}${hint}`));
      })
      .on("close", () => {
        lost ??= new Error(`the SSH connection to ${where} was closed`);
        failures.forEach((fail) => fail(lost!));
        failures.clear();
      });
    try {
      client.connect({
        sock: socket,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: 20_000,
        keepaliveInterval: options.detachable ? 0 : KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        hostVerifier: (key: Buffer) => {
          options.presentedHostKey?.(hostKeyLine(key));
          return target.hostKey ? key.equals(hostKeyBlob(target.hostKey)) : true;
        },
      });
    } catch (err) {
      // Refused before a byte is sent (a private key that does not parse): the socket goes too,
      // or it would hold the process until the server hangs up.
      socket.destroy();
      reject(new Error(`cannot connect to ${where}: ${(err as Error).message}; check server.privateKey (an OpenSSH private key without a passphrase)`));
    }
  });
}

/** Run one command over SSH with a pinned host key; resolves with its exit code and output. */
export async function runOverSsh(target: SshTarget, command: string, options: RunOptions = {}): Promise<SshResult> {
  const session = await openSsh(target, options);
  try {
    return await session.run(command, options);
  } finally {
    session.close();
  }
}
