/**
 * The after-deploy check, `npm run smoke -- -s <stack> [--screenshot FILE]`, run in the checkout
 * that deploys the stack (CI runs it after `pulumi up`): the app's page loads in a real browser
 * (Debian's chromium-headless-shell, driven by playwright-core) with no console error, no script
 * error and no failed request (every asset the page loads answers 2xx), and the API's health
 * path answers 200. It reaches the app as the server itself does, through a port forwarded over
 * the stack's SSH connection (pinned host key), so it checks development, which is local only,
 * and production behind Cloudflare Access alike. It takes a screenshot of the page it loaded.
 * Exit 0 when everything passed; 1 with each failure named.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { Browser, chromium, Page } from "playwright-core";
import { parseStackConfig, PROJECT, readRawConfig } from "../config/load";
import { openSsh } from "../lib/ssh";

/** Debian's package chromium-headless-shell (scripts/smoke.sh installs it). */
export const BROWSER = "/usr/bin/chromium-headless-shell";
const PAGE_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 10_000;

export interface SmokeResult {
  readonly failures: string[];
  readonly requests: number;
  readonly screenshot: string;
}

function pulumi(args: string[]): string {
  return execFileSync("pulumi", args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 }).toString();
}

/** The stack's settings, as the program reads them (defaults included, secrets decrypted). */
function stackConfig(stack: string) {
  const entries = JSON.parse(pulumi(["config", "--json", "--show-secrets", "--stack", stack])) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
  const { raw, secretSections } = readRawConfig(
    (section) => entries[`${PROJECT}:${section}`]?.objectValue ?? entries[`${PROJECT}:${section}`]?.value,
    (section) => entries[`${PROJECT}:${section}`]?.secret === true,
  );
  return parseStackConfig(stack, raw, secretSections).config;
}

/** Load the page and record what went wrong: console errors, script errors, failed or non-2xx requests. */
async function checkPage(page: Page, base: string, screenshot: string): Promise<{ failures: string[]; requests: number }> {
  const failures: string[] = [];
  let requests = 0;
  page.on("console", (message) => {
    if (message.type() === "error") failures.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => failures.push(`script error: ${error.message}`));
  page.on("requestfailed", (request) => failures.push(`request failed: ${new URL(request.url()).pathname} (${request.failure()?.errorText ?? "no answer"})`));
  page.on("response", (response) => {
    requests++;
    const status = response.status();
    // A redirect is followed; what it leads to answers for itself.
    if (status >= 300 && status < 400) return;
    if (status < 200 || status > 299) failures.push(`${new URL(response.url()).pathname} answered ${status}`);
  });
  const answer = await page.goto(`${base}/`, { waitUntil: "load", timeout: PAGE_TIMEOUT_MS }).catch((err: Error) => {
    failures.push(`the page did not load: ${err.message.split("\n")[0]}`);
    return null;
  });
  // What the page's scripts fetch after the load; a page that keeps polling is not waited for longer.
  if (answer) await page.waitForLoadState("networkidle", { timeout: SETTLE_TIMEOUT_MS }).catch(() => undefined);
  if (answer && !(await page.locator("body *").count())) failures.push("the page is empty");
  await page.screenshot({ path: screenshot, fullPage: true });
  return { failures, requests };
}

export async function smoke(stack: string, screenshot: string): Promise<SmokeResult> {
  const config = stackConfig(stack);
  const outputs = JSON.parse(pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack])) as { url?: string; serverHostKey?: string };
  if (!outputs.url) throw new Error(`stack ${stack} has no output url; run 'pulumi up -s ${stack}' first`);
  const health = new URL(outputs.url);
  const hostKey = config.server.hostKey ?? outputs.serverHostKey;
  if (!hostKey) throw new Error(`stack ${stack} pins no server.hostKey and has recorded none; run 'pulumi up -s ${stack}' once`);
  const session = await openSsh({ host: config.server.address, port: config.server.port, user: config.server.user, privateKey: config.server.privateKey, hostKey });
  let browser: Browser | undefined;
  try {
    const base = `http://127.0.0.1:${await session.forward(Number(health.port))}`;
    browser = await chromium.launch({ executablePath: BROWSER });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const { failures, requests } = await checkPage(page, base, screenshot);
    const api = await fetch(`${base}${health.pathname}`, { signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) }).catch((err: Error) => ({ status: err.message }));
    if (api.status !== 200) failures.push(`the API's ${health.pathname} answered ${api.status}, not 200`);
    return { failures, requests, screenshot };
  } finally {
    await browser?.close();
    session.close();
  }
}

function usage(): never {
  console.error("usage: npm run smoke -- -s <stack> [--screenshot <file.png>]");
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let stack = "";
  let screenshot = "";
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-s" || args[i] === "--stack") stack = args[++i] ?? usage();
    else if (args[i] === "--screenshot") screenshot = args[++i] ?? usage();
    else usage();
  }
  if (!stack) usage();
  const result = await smoke(stack, path.resolve(screenshot || `smoke-${stack}.png`));
  for (const failure of result.failures) console.error(`[smoke] ${stack}: ${failure}`);
  console.log(
    result.failures.length === 0
      ? `[smoke] ${stack}: the page loaded in the browser with no console error and no failed request (${result.requests} requests), the API answered 200; screenshot ${result.screenshot}`
      : `[smoke] ${stack}: ${result.failures.length} problem(s) above; screenshot ${result.screenshot}`,
  );
  process.exitCode = result.failures.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`[smoke] ${err.message}`);
    process.exitCode = 1;
  });
}
