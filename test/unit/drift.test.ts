import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DriftBaseline, driftCheck, driftProvider, driftReport, parseObservation, stateSummary } from "../../components/providers/drift";
import { expectedFirewallState } from "../../components/host/firewall";
import { buildStack } from "./mocks";
import { FACTS } from "./fixtures";

test("observe.sh output splits into sections without trailing newlines", () => {
  const observed = parseObservation("commit=abc\n@@ unit\n[Unit]\nA=1\n\n@@ service\nactive enabled\n@@ venvs\n");
  assert.equal(observed.get("unit"), "[Unit]\nA=1");
  assert.equal(observed.get("service"), "active enabled");
  assert.equal(observed.get("venvs"), "");
  assert.equal(observed.get("commit"), undefined);
});

test("the expected firewall lists SSH and this stack's ports, sorted as observe.sh sorts", () => {
  assert.equal(
    expectedFirewallState(22, "ai4artsed-production", [17801, 5173]),
    "status: active\nincoming: deny\nufw allow 22/tcp comment 'ai4artsed-ssh'\nufw deny 17801/tcp comment 'ai4artsed-production'\nufw deny 5173/tcp comment 'ai4artsed-production'",
  );
});

test("a drift check records the server as matching after apply, and counts repairs", async () => {
  const created = await driftProvider.create!({ expected: "A", onServer: "B" });
  assert.deepEqual(created.outs, { expected: "A", onServer: "A", repairs: 0 });
  const same = await driftProvider.diff!("id", created.outs, { expected: "A", onServer: "A" });
  assert.equal(same.changes, false, "no drift, no change");
  const drifted = await driftProvider.diff!("id", created.outs, { expected: "A", onServer: "edited" });
  assert.equal(drifted.changes, true, "drift shows as a change");
  const repaired = await driftProvider.update!("id", created.outs, { expected: "A", onServer: "edited" });
  assert.deepEqual(repaired.outs, { expected: "A", onServer: "A", repairs: 1 });
  const after = await driftProvider.diff!("id", repaired.outs, { expected: "A", onServer: "A" });
  assert.equal(after.changes, false, "after the repair the next preview is clean");
});

test("observations reach the checks; unobserved pieces never drift", async () => {
  const observed = new Map([
    ["unit", "[Unit]\nedited"],
    ["environment", "644 root:root sha256:00"],
    ["service", "inactive enabled"],
    ["current", "/opt/ai4artsed-production/releases/other"],
    ["firewall", "status: inactive"],
    ["journald", "<missing>"],
    ["venvs", ""],
  ]);
  const graph = await buildStack("production", { app: { deployStrategy: "restart" } }, FACTS, "drifted", observed);
  const check = (name: string) => graph.get(`drifted-${name}`)!.inputs;
  assert.equal(check("service-unit-state").onServer, stateSummary("[Unit]\nedited"), "long states show as checksums");
  assert.equal(check("service-environment-state").onServer, "644 root:root sha256:00");
  assert.match(check("service-environment-state").expected, /^600 root:root sha256:[0-9a-f]{64}$/);
  assert.equal(check("service-running-state").expected, "active enabled");
  assert.equal(check("service-current-state").expected, `/opt/ai4artsed-production/releases/${FACTS.commit}`);
  assert.equal(check("python-state").onServer, `${FACTS.requirementsBlob} missing`);
  assert.equal(check("journald-state").onServer, "<missing>");
  const clean = await buildStack("production", {}, FACTS, "unobserved");
  for (const r of clean.values()) {
    if (r.name.endsWith("-state")) assert.equal(r.inputs.onServer, r.inputs.expected, r.name);
  }
});

test("the drift warning names the check and shows the edited lines as a unified diff", () => {
  const report = driftReport("production-journald-state", "[Journal]\nSystemMaxUse=1G\nSystemKeepFree=2G", "[Journal]\nSystemMaxUse=8G\nSystemKeepFree=2G");
  assert.match(report, /^drift in production-journald-state: /);
  assert.match(report, /\n-SystemMaxUse=1G\n\+SystemMaxUse=8G\n/);
  assert.match(report, /\n--- wanted by the stack\n\+\+\+ on the server\n/);
});

test("a server that still holds what the stack last applied is a planned change, not drift; a hand edit warns", async () => {
  const warnings: string[] = [];
  const warn = pulumi.log.warn;
  pulumi.log.warn = (message: string) => (warnings.push(message), Promise.resolve());
  try {
    const parent = new pulumi.ComponentResource("test:index:Owner", "baseline-owner");
    const baseline = new DriftBaseline({ "planned-state": "release-1", "edited-state": "release-1", "venv-state": "blob-1 complete" });
    // A new commit: the stack wants release-2, the server still has release-1 as last applied.
    driftCheck("planned-state", "release-2", "release-1", parent, baseline);
    // A hand edit: the server has neither what was applied nor what is wanted.
    driftCheck("edited-state", "release-2", "by-hand", parent, baseline);
    // New requirements: the server still has the venv last applied, read against it.
    driftCheck("venv-state", "blob-2 complete", (last) => (last === "blob-1 complete" ? last : "blob-2 missing"), parent, baseline);
    // No baseline yet (a stack deployed before it was recorded): a difference warns, as before.
    driftCheck("new-state", "release-2", "release-1", parent, baseline);
    const applied = await new Promise((resolve) => baseline.applied().apply(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(warnings.map((w) => w.split(":")[0]), ["drift in edited-state", "drift in new-state"]);
    assert.deepEqual(applied, { "planned-state": "release-2", "edited-state": "release-2", "venv-state": "blob-2 complete", "new-state": "release-2" });
  } finally {
    pulumi.log.warn = warn;
  }
});
