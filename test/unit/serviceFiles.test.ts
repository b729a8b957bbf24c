import { test } from "node:test";
import assert from "node:assert/strict";
import { renderEnvironmentFile, renderExtraServiceUnit, renderUnit } from "../../components/render/serviceFiles";
import { renderJournaldDropIn } from "../../components/host/journald";

const UNIT = renderUnit({
  unitName: "ai4artsed-production",
  description: "AI4ArtsEd production (port 17801)",
  serviceUser: "ai4artsed-production",
  installDir: "/opt/ai4artsed-production",
  backendDir: "devserver",
  environmentFile: "/etc/ai4artsed/ai4artsed-production.env",
});

test("the unit restarts itself, runs from current/, logs to the journal", () => {
  for (const line of [
    "Restart=always",
    "RestartSec=10",
    "User=ai4artsed-production",
    "WorkingDirectory=/opt/ai4artsed-production/current/devserver",
    "ExecStart=/opt/ai4artsed-production/current/venv/bin/python server.py",
    "EnvironmentFile=/etc/ai4artsed/ai4artsed-production.env",
    "StandardOutput=journal",
    "StandardError=journal",
    "SyslogIdentifier=ai4artsed-production",
    "WantedBy=multi-user.target",
  ]) {
    assert.ok(UNIT.split("\n").includes(line), `unit lacks ${line}`);
  }
});

test("the unit is sandboxed and may write only shared/", () => {
  for (const line of ["ProtectSystem=strict", "ReadWritePaths=/opt/ai4artsed-production/shared", "NoNewPrivileges=yes", "CapabilityBoundingSet=", "PrivateTmp=yes"]) {
    assert.ok(UNIT.split("\n").includes(line), `unit lacks ${line}`);
  }
  assert.doesNotMatch(UNIT, /SECRET|KEY=/, "no secret in the unit");
});

test("the unit may also write its writable paths outside the install dir, colors too", () => {
  for (const color of [false, true]) {
    const unit = renderUnit({
      unitName: "ai4artsed-production",
      description: "AI4ArtsEd production",
      serviceUser: "ai4artsed-production",
      installDir: "/opt/ai4artsed-production",
      backendDir: "devserver",
      environmentFile: "/etc/ai4artsed/ai4artsed-production.env",
      writablePaths: ["/opt/kohya_ss_new/dataset", "/opt/SwarmUI/Models/loras"],
      color,
    });
    assert.ok(
      unit.split("\n").includes("ReadWritePaths=/opt/ai4artsed-production/shared /opt/kohya_ss_new/dataset /opt/SwarmUI/Models/loras"),
      `color ${color}:\n${unit}`,
    );
  }
});

test("the EnvironmentFile quotes values the way systemd reads them", () => {
  const text = renderEnvironmentFile({ PORT: "17801", SECRET_KEY: 'a"b\\c', EMPTY: "" });
  assert.equal(text.split("\n").slice(1).join("\n"), 'PORT="17801"\nSECRET_KEY="a\\"b\\\\c"\nEMPTY=""\n');
  assert.throws(() => renderEnvironmentFile({ X: "a\nb" }), /X must be one line/);
});

test("the journald drop-in carries the seed's limits", () => {
  assert.equal(
    renderJournaldDropIn({ systemMaxUse: "1G", systemKeepFree: "2G", maxRetentionSec: "1month" }).split("\n").slice(1).join("\n"),
    "[Journal]\nSystemMaxUse=1G\nSystemKeepFree=2G\nMaxRetentionSec=1month\n",
  );
});

/** The real app's GPU service as docs/design.md configures it. */
function gpuUnit(gpu: "auto" | "none", writablePaths: string[] = []): string[] {
  return renderExtraServiceUnit({
    unit: "ai4artsed-gpu-service",
    description: "AI4ArtsEd gpu-service (port 17803)",
    serviceUser: "ai4artsed-production",
    current: "/opt/ai4artsed-production/services/gpu-service/current",
    directory: "gpu_service",
    command: "python server.py",
    environmentFile: "/etc/ai4artsed/ai4artsed-gpu-service.env",
    writablePaths,
    cacheDir: "/var/cache/ai4artsed-gpu-service",
    gpu,
  }).split("\n");
}

test("an extra service runs from its own release link with that release's venv, restarts itself, its cache its HOME", () => {
  const unit = gpuUnit("auto", ["/opt/ai/heartlib"]);
  for (const line of [
    "WorkingDirectory=/opt/ai4artsed-production/services/gpu-service/current/gpu_service",
    "ExecStart=/opt/ai4artsed-production/services/gpu-service/current/venv/bin/python server.py",
    "Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/var/cache/ai4artsed-gpu-service",
    "EnvironmentFile=/etc/ai4artsed/ai4artsed-gpu-service.env",
    "Restart=always",
    "CacheDirectory=ai4artsed-gpu-service",
    "ReadWritePaths=/opt/ai/heartlib",
    "User=ai4artsed-production",
    "ProtectSystem=strict",
    "NoNewPrivileges=yes",
  ]) {
    assert.ok(unit.includes(line), `unit lacks ${line}`);
  }
  assert.ok(!unit.some((line) => line.startsWith("ProcSubset=")), "PyTorch reads /proc/cpuinfo and /proc/meminfo");
});

test("gpu auto: the NVIDIA and render devices by their driver's class, the driver's groups, the host's users; gpu none: no device at all", () => {
  const auto = gpuUnit("auto");
  for (const line of [
    "PrivateDevices=no",
    "DevicePolicy=closed",
    "DeviceAllow=char-nvidia-frontend rw",
    "DeviceAllow=char-nvidia-uvm rw",
    "DeviceAllow=char-nvidia-caps r",
    "DeviceAllow=char-drm rw",
    "DeviceAllow=/dev/kfd rw",
    "SupplementaryGroups=video render",
  ]) {
    assert.ok(auto.includes(line), `gpu auto lacks ${line}`);
  }
  assert.ok(!auto.includes("PrivateUsers=yes"), "a device's group is the host's: no private users");
  const none = gpuUnit("none");
  assert.ok(none.includes("PrivateDevices=yes") && none.includes("PrivateUsers=yes") && none.includes("DevicePolicy=closed"));
  assert.ok(!none.some((line) => line.startsWith("DeviceAllow=") || line.startsWith("SupplementaryGroups=")), "gpu none: no devices");
  assert.ok(!none.some((line) => line.startsWith("ReadWritePaths=")), "no writable paths unless set");
});
