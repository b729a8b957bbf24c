/**
 * The after-deploy check's API call (scripts/smoke.ts), without a browser or a server: where it
 * goes, and what it says. Cloudflare Access cannot be reached from tests; a local HTTP server
 * stands in for it: it admits a request with the service token's two headers and sends any
 * other to a login page, as Access does.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as http from "http";
import { AddressInfo } from "net";
import { apiTarget, checkApi } from "../../scripts/smoke";

const TOKEN = { clientId: "check-id.access", clientSecret: "check-secret-0123456789" };
let access: http.Server;
let base = "";
const seen: http.IncomingHttpHeaders[] = [];

before(async () => {
  access = http.createServer((request, response) => {
    seen.push(request.headers);
    if (request.headers["cf-access-client-id"] === TOKEN.clientId && request.headers["cf-access-client-secret"] === TOKEN.clientSecret) {
      response.writeHead(request.url === "/api/health" ? 200 : 404).end("{}");
    } else {
      response.writeHead(302, { location: "https://team.cloudflareaccess.com/cdn-cgi/access/login" }).end();
    }
  });
  await new Promise<void>((resolve) => access.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(access.address() as AddressInfo).port}`;
});

after(() => access.close());

/** A port that was just free: nothing listens there. */
async function closedPort(): Promise<string> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

test("without Cloudflare the API is called through the server's forwarded port, with no token", () => {
  assert.deepEqual(apiTarget({ url: "http://127.0.0.1:17802/api/health" }, "http://127.0.0.1:40001"), {
    url: "http://127.0.0.1:40001/api/health",
    headers: {},
    via: "through the server",
  });
});

test("with Cloudflare it goes through the public name with the service token's two headers, and passes", async () => {
  const target = apiTarget({ url: "http://127.0.0.1:17801/api/health", publicUrl: base, accessCheckToken: TOKEN }, "http://127.0.0.1:40001");
  assert.equal(target.url, `${base}/api/health`);
  assert.equal(target.via, `through ${base}`);
  assert.equal(await checkApi(target), undefined);
  assert.equal(seen.at(-1)!["cf-access-client-id"], TOKEN.clientId);
});

test("a token Access no longer admits fails naming the token and the fix, not the redirect's target", async () => {
  const stale = apiTarget({ url: "http://127.0.0.1:17801/api/health", publicUrl: base, accessCheckToken: { ...TOKEN, clientSecret: "expired" } }, "unused");
  assert.match((await checkApi(stale))!, /^the API's \/api\/health answered 302 through http:\/\/127\.0\.0\.1:\d+: Cloudflare Access did not admit the check's service token .*docs\/runbook\.md: The after-deploy check/);
});

test("a wrong status and no answer at all are each named with the path they went", async () => {
  const missing = apiTarget({ url: "http://127.0.0.1:17801/api/gone", publicUrl: base, accessCheckToken: TOKEN }, "unused");
  assert.match((await checkApi(missing))!, /answered 404 through http:\/\/127\.0\.0\.1:\d+, not 200$/);
  const closed = apiTarget({ url: "http://127.0.0.1:17802/api/health" }, await closedPort());
  assert.match((await checkApi(closed))!, /^the API's \/api\/health did not answer through the server: .*ECONNREFUSED/);
});
