/**
 * lib/ssh.ts where no SSH server is needed: a private key that does not parse. A local TCP
 * listener stands in for the server (the key is refused before a byte is sent).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "net";
import { openSsh } from "../../lib/ssh";

test("a private key that does not parse is refused at once, naming the setting, and its connection is closed", async () => {
  const server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const started = Date.now();
    await assert.rejects(openSsh({ host: "127.0.0.1", port, user: "root", privateKey: "not a key" }), /cannot connect to root@127\.0\.0\.1:\d+: .*check server\.privateKey/);
    assert.ok(Date.now() - started < 2000, "refused at once");
    // The socket opened for it is gone, not left to hold the process until the server hangs up.
    for (let i = 0; i < 20 && (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n))), 0);
  } finally {
    server.close();
  }
});
