/**
 * Steady load inside the test server (loadgen.py, copied there): start it, deploy, stop it,
 * read what it counted. Traffic stays on the server's loopback; every run is bounded.
 */
import * as fs from "fs";
import * as path from "path";
import { sh, shOk, TestServer } from "../testserver/client";

const LOADGEN = path.join(__dirname, "loadgen.py");
const REMOTE_LOADGEN = "/root/ai4artsed-loadgen.py";

export interface LoadOptions {
  readonly port: number;
  /** Quick requests per second. Defaults to 20. */
  readonly rate?: number;
  /** Slow requests kept in flight. Defaults to 3. */
  readonly slow?: number;
  /** Duration of each slow request. Defaults to 5. */
  readonly slowSeconds?: number;
  /** Hard bound on the run. Defaults to 300. */
  readonly maxSeconds?: number;
}

export interface LoadSummary {
  readonly seconds: number;
  readonly quick_sent: number;
  readonly quick_ok: number;
  readonly quick_failed: number;
  readonly quick_retried: number;
  readonly slow_sent: number;
  readonly slow_ok: number;
  readonly slow_failed: number;
  readonly max_quick_ms: number;
  /** Answers per "<version> secure_cookie=<bool>". */
  readonly versions: Record<string, number>;
  /** When (epoch seconds, the server's clock) each started release first answered: "code_revision=<n> extras=<a,b> pid=<pid>". */
  readonly first_seen: Record<string, number>;
  readonly errors: Record<string, number>;
  /** Each failed request (up to 200): its error, when it was sent and when it failed (epoch seconds, the server's clock). */
  readonly failed: readonly FailedRequest[];
}

export interface FailedRequest {
  readonly error: string;
  readonly sent: number;
  readonly failed: number;
}

export interface RunningLoad {
  stop(): Promise<LoadSummary>;
}

let runs = 0;

export async function startLoad(server: TestServer, options: LoadOptions): Promise<RunningLoad> {
  const id = `${process.pid}-${++runs}`;
  const stopFile = `/run/ai4artsed-load-${id}.stop`;
  const out = `/run/ai4artsed-load-${id}.json`;
  await sh(server, `cat > ${REMOTE_LOADGEN}`, fs.readFileSync(LOADGEN, "utf8"));
  const args = [
    `--port ${options.port}`,
    `--rate ${options.rate ?? 20}`,
    `--slow ${options.slow ?? 3}`,
    `--slow-seconds ${options.slowSeconds ?? 5}`,
    `--max-seconds ${options.maxSeconds ?? 300}`,
    `--stop-file ${stopFile}`,
    `--out ${out}`,
  ].join(" ");
  await shOk(server, `rm -f ${stopFile} ${out}; setsid nohup python3 ${REMOTE_LOADGEN} ${args} >/run/ai4artsed-load-${id}.log 2>&1 < /dev/null & echo started`);
  return {
    async stop(): Promise<LoadSummary> {
      await shOk(server, `touch ${stopFile}`);
      const waited = await sh(server, `for i in $(seq 1 200); do [ -f ${out} ] && break; sleep 0.5; done; cat ${out} || cat /run/ai4artsed-load-${id}.log`);
      try {
        return JSON.parse(waited.stdout) as LoadSummary;
      } catch {
        throw new Error(`the load generator left no summary:\n${waited.stdout}\n${waited.stderr}`);
      }
    },
  };
}

/** Failed requests of a run, quick and slow. */
export function failures(summary: LoadSummary): number {
  return summary.quick_failed + summary.slow_failed;
}

/**
 * Failed requests sent after `instant` (epoch seconds, the server's clock). A request sent
 * before a process died may have been held by it; one sent after must have gone elsewhere.
 */
export function failedSentAfter(summary: LoadSummary, instant: number): FailedRequest[] {
  return summary.failed.filter((request) => request.sent > instant);
}
