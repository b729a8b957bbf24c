/**
 * The after-deploy check, `npm run smoke -- -s <stack> [--screenshot FILE]`, run in the checkout
 * that deploys the stack (CI runs it after `pulumi up`): the app's page loads in a real browser
 * (Debian's chromium-headless-shell, driven by playwright-core) with no console error, no script
 * error and no failed request (every asset the page loads answers 2xx), and the API's health
 * path answers 200. The page is loaded as the server itself serves it, through a port forwarded
 * over the stack's SSH connection (pinned host key), so it checks development, which is local
 * only, and production alike. The API is called through the public name with the stack's Access
 * service token when Cloudflare is on (as a visitor reaches it), else through the same forward.
 * It takes a screenshot of the page it loaded.
 * Exit 0 when everything passed; 1 with each failure named.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { Browser, chromium, Page } from "playwright-core";
import { openSsh } from "../lib/ssh";
import { serverTarget, stackConfig, StackOutputs, stackOutputs } from "./lib/stack";

const PAGE_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 10_000;

/** Debian's chromium-headless-shell, as found on PATH (ensure_browser in scripts/lib/setup.sh installs it). */
export function browserPath(): string {
  const found = spawnSync("bash", ["-c", "command -v chromium-headless-shell"]).stdout?.toString().trim();
  if (!found) throw new Error("chromium-headless-shell is not installed: run the check as `npm run smoke -- -s <stack>`, which installs it");
  return found;
}

export interface SmokeResult {
  readonly failures: string[];
  readonly requests: number;
  readonly screenshot: string;
  /** Where the API was called: "through <public URL>" or "through the server". */
  readonly apiPath: string;
}

export interface ApiTarget {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly via: string;
}

/** The API's health path through the public name with the Access service token where there is one, else through the forward. */
export function apiTarget(outputs: StackOutputs & { url: string }, forwarded: string): ApiTarget {
  const health = new URL(outputs.url).pathname;
  if (outputs.publicUrl && outputs.accessCheckToken) {
    const { clientId, clientSecret } = outputs.accessCheckToken;
    return { url: `${outputs.publicUrl}${health}`, headers: { "CF-Access-Client-Id": clientId, "CF-Access-Client-Secret": clientSecret }, via: `through ${outputs.publicUrl}` };
  }
  return { url: `${forwarded}${health}`, headers: {}, via: "through the server" };
}

/** Call the API once; a failure named, or undefined. A redirect is Access sending the check to its login page. */
export async function checkApi(target: ApiTarget): Promise<string | undefined> {
  const path = new URL(target.url).pathname;
  const answer = await fetch(target.url, { headers: target.headers, redirect: "manual", signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) }).catch((err: Error) => err);
  if (answer instanceof Error) return `the API's ${path} did not answer ${target.via}: ${answer.cause instanceof Error ? answer.cause.message : answer.message}`;
  if (answer.status === 200) return undefined;
  if (target.headers["CF-Access-Client-Id"] && [301, 302, 303, 401, 403].includes(answer.status)) {
    return `the API's ${path} answered ${answer.status} ${target.via}: Cloudflare Access did not admit the check's service token (expired after a year? renew it, docs/runbook.md: The after-deploy check)`;
  }
  return `the API's ${path} answered ${answer.status} ${target.via}, not 200`;
}

/** Load the page and record what went wrong: console errors, script errors, failed or non-2xx requests. */
export async function checkPage(page: Page, url: string, screenshot: string): Promise<{ failures: string[]; requests: number }> {
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
  const answer = await page.goto(url, { waitUntil: "load", timeout: PAGE_TIMEOUT_MS }).catch((err: Error) => {
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
  const outputs = stackOutputs(stack);
  const health = new URL(outputs.url);
  const session = await openSsh(serverTarget(stack, config, outputs));
  let browser: Browser | undefined;
  try {
    const base = `http://127.0.0.1:${await session.forward(Number(health.port))}`;
    browser = await chromium.launch({ executablePath: browserPath() });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const { failures, requests } = await checkPage(page, `${base}/`, screenshot);
    const api = apiTarget(outputs, base);
    const apiFailure = await checkApi(api);
    if (apiFailure) failures.push(apiFailure);
    return { failures, requests, screenshot, apiPath: api.via };
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
      ? `[smoke] ${stack}: the page loaded in the browser with no console error and no failed request (${result.requests} requests), the API answered 200 ${result.apiPath}; screenshot ${result.screenshot}`
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
