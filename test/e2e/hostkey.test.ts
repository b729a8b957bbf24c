/**
 * A development stack without server.hostKey, with the real engine: the first connection trusts
 * the server's key and records it in the stack; a server that later presents another key is
 * refused before anything is sent to it, with the ssh-keyscan procedure; pinning the new key
 * in the config goes on.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SERVER_REPO, shOk, sshLoginsDuring, startTestBed, stopTestServer, TestServer } from "../host/harness";
import { PulumiWorkspace } from "../../tools/workspace";

const NAME = `ai4f${process.pid % 10000}`;
let server: TestServer;
let ws: PulumiWorkspace;

before(async () => {
  ({ server } = await startTestBed(NAME));
  ws = new PulumiWorkspace("development");
  ws.init(server, SERVER_REPO, "development");
  ws.ok(["config", "rm", "--path", "server.hostKey"]);
});

after(() => {
  if (server) stopTestServer(NAME);
  ws?.remove();
});

test("the first up trusts and records the server's key; later runs check it without a word", () => {
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  assert.match(up.stdout + up.stderr, /server\.hostKey is not set: trusting ssh-ed25519 \S+ on first use and recording it/);
  assert.equal(ws.outputs().serverHostKey, server.hostKey!.split(" ").slice(0, 2).join(" "));
  const preview = ws.run(["preview", "--expect-no-changes"]);
  assert.equal(preview.code, 0, preview.stdout + preview.stderr);
  assert.doesNotMatch(preview.stdout + preview.stderr, /on first use/);
});

test("a server that presents another key is refused before anything is sent; pinning the new key goes on", async () => {
  // The server is reinstalled, or another machine answers at its address: a new host key.
  // sshd restarts in place (KillMode=process): this session lives on, new ones see the new key.
  const newKey = await shOk(
    server,
    "rm -f /etc/ssh/ssh_host_*key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key >/dev/null && " +
      "ssh-keygen -q -t rsa -N '' -f /etc/ssh/ssh_host_rsa_key >/dev/null && systemctl restart ssh && cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub",
  );
  const rekeyed: TestServer = { ...server, hostKey: newKey };
  const { result: refused, logins } = await sshLoginsDuring(rekeyed, () => ws.run(["preview"]));
  assert.notEqual(refused.code, 0);
  const text = refused.stdout + refused.stderr;
  assert.match(text, /server\.hostKey is not set, and the server at \S+ presented ssh-ed25519 \S+, not the key this stack recorded when it first connected/);
  assert.match(text, /nothing was sent to it.*ssh-keyscan -t ed25519/s);
  assert.equal(logins, 0, "the program logged in to a server with a changed key");
  ws.set("server.hostKey", newKey);
  const up = ws.ok(["up", "--yes", "--skip-preview"]);
  assert.doesNotMatch(up.stdout + up.stderr, /on first use/);
  assert.equal(ws.outputs().serverHostKey, newKey);
  assert.equal(await shOk(rekeyed, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:17802/api/schema/info"), "200");
});
