/**
 * The project's install scripts for what the tests need (ensure-weed.sh, ensure-ci-tools.sh):
 * each builds or fetches once, caches outside the repo, logs to stderr and prints the path to
 * use as the last line of its stdout.
 */
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.join(__dirname, "..");

/** Run the install script at `script` (relative to the repository) and return the path it printed. */
export function ensured(script: string): string {
  return execFileSync("bash", [path.join(ROOT, script)], { stdio: ["ignore", "pipe", "inherit"] }).toString().trim().split("\n").pop()!;
}
