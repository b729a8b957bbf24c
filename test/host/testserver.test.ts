/**
 * The test servers themselves: two servers booted from one process keep their systemd apart.
 * Every test file boots servers whose units have the same names (ai4artsed-development-health…);
 * when their guests shared one cgroup tree, one guest's systemd removed the cgroup of the other's
 * unit as it started it, and the unit failed with "Failed to spawn executor".
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import { shOk, startTestServer, stopTestServer, TestServer } from "./harness";

const NAMES = [`ai4a${process.pid % 10000}`, `ai4i${process.pid % 10000}`];
const STARTS = 60;
const RUN_BASE = process.env.AI4ARTSED_RUN_DIR ?? "/run/ai4artsed-testserver";
let servers: TestServer[];

before(() => {
  servers = NAMES.map(startTestServer);
});

after(() => {
  for (const name of NAMES) stopTestServer(name);
});

test("one unit name started over and over in two servers at once never fails to spawn", async () => {
  const unit = "[Service]\nType=oneshot\nExecStart=/bin/sleep 0.05\n";
  const counts = await Promise.all(
    servers.map((server) =>
      shOk(
        server,
        `cat >/etc/systemd/system/same-name.service && systemctl daemon-reload && failed=0 &&
         for _ in $(seq ${STARTS}); do systemctl start same-name.service || failed=$((failed + 1)); done;
         echo "$failed $(journalctl -u same-name.service --no-pager | grep -c 'Failed to spawn' || true)"`,
        unit,
      ),
    ),
  );
  assert.deepEqual(counts, ["0 0", "0 0"], `failed starts and spawn failures per server: ${counts.join(", ")}`);
});

test("each server's systemd runs in a cgroup of its own, removed with the server", () => {
  const initCgroups = NAMES.map((name) => {
    const nspawn = fs.readFileSync(`${RUN_BASE}/${name}/nspawn.pid`, "utf8").trim();
    const init = fs.readFileSync(`/proc/${nspawn}/task/${nspawn}/children`, "utf8").trim().split(" ")[0];
    return fs.readFileSync(`/proc/${init}/cgroup`, "utf8").split("\n").find((line) => line.startsWith("0::")) ?? "";
  });
  for (const [index, line] of initCgroups.entries()) assert.match(line, new RegExp(`/ai4artsed-testserver-${NAMES[index]}/`), line);
  const dirs = fs.readFileSync(`${RUN_BASE}/${NAMES[1]}/cgroups`, "utf8").trim().split("\n");
  stopTestServer(NAMES[1]);
  for (const dir of dirs) assert.equal(fs.existsSync(dir), false, `${dir} is left after 'down'`);
});
