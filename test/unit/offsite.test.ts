/** Off-host backups (restic) under mocks: config, the component's steps and units, what the monitor and observe.sh get. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { ConfigError, parseStackConfig, RawConfig } from "../../config/load";
import { sftpTarget } from "../../lib/restic";
import { inspectServer } from "../../components/inspect/deployFacts";
import { denyPortsOf } from "../../components/environment";
import { knownHostsLine, lastBackupReport, renderOffsiteService, renderOffsiteTimer } from "../../components/operations/offsiteBackup";
import { buildStack, remoteStep } from "./mocks";
import { FACTS_STDOUT, fakeSession, rawConfig, SECRET_SECTIONS, TEST_HOST_KEY, TEST_PRIVATE_KEY } from "./fixtures";

const PASSWORD = "correct-horse-battery-staple-4711";
const OFFSITE = {
  repository: "sftp:ai4artsed-backup@10.0.0.9:/production",
  password: PASSWORD,
  sshKey: TEST_PRIVATE_KEY,
  hostKey: TEST_HOST_KEY,
};

test("config: off unless a repository is set; defaults nightly, the last 7 days whole then 7/4/12, a weekly 5% check, 48 h", () => {
  const none = parseStackConfig("production", rawConfig(), SECRET_SECTIONS).config.backup.offsite;
  assert.equal(none.repository, undefined);
  assert.equal(none.enabled, false);
  const { offsite } = parseStackConfig("production", rawConfig({ backup: { offsite: OFFSITE } }), SECRET_SECTIONS).config.backup;
  assert.deepEqual(
    { ...offsite, password: undefined, sshKey: undefined },
    {
      ...OFFSITE,
      enabled: true,
      password: undefined,
      sshKey: undefined,
      credentials: {},
      schedule: "*-*-* 02:30:00",
      keepWithinDays: 7,
      keepDaily: 7,
      keepWeekly: 4,
      keepMonthly: 12,
      checkSubset: "5%",
      checkEveryDays: 7,
      maxAgeHours: 48,
    },
  );
  assert.deepEqual(sftpTarget("sftp:backup@host.example:/production"), { user: "backup", host: "host.example", port: 22 });
  assert.deepEqual(sftpTarget("sftp://backup@10.0.0.9:2222//srv/restic"), { user: "backup", host: "10.0.0.9", port: 2222 });
  assert.equal(sftpTarget("sftp:host.example:/production"), undefined);
  assert.equal(knownHostsLine("sftp://b@10.0.0.9:2222//r", TEST_HOST_KEY), `[10.0.0.9]:2222 ${TEST_HOST_KEY}\n`);
});

const INVALID: Array<[string, object, string, Set<string>?]> = [
  ["enabled without a repository", { enabled: "true" }, "ai4artsed:backup.offsite.repository"],
  ["a local path is not off-host", { ...OFFSITE, repository: "/srv/restic" }, "ai4artsed:backup.offsite.repository"],
  ["sftp without a user", { ...OFFSITE, repository: "sftp:backuphost:/production" }, "ai4artsed:backup.offsite.repository"],
  ["no password", { ...OFFSITE, password: undefined }, "ai4artsed:backup.offsite.password"],
  ["a short password", { ...OFFSITE, password: "short" }, "ai4artsed:backup.offsite.password"],
  ["sftp without a key", { ...OFFSITE, sshKey: undefined }, "ai4artsed:backup.offsite.sshKey"],
  ["sftp without a pinned host key", { ...OFFSITE, hostKey: undefined }, "ai4artsed:backup.offsite.hostKey"],
  ["password in plain text", OFFSITE, "ai4artsed:backup.offsite.password", new Set(["server"])],
  ["key in plain text", OFFSITE, "ai4artsed:backup.offsite.sshKey", new Set(["server"])],
  ["a schedule with a quote", { ...OFFSITE, schedule: "daily'; rm -rf /" }, "ai4artsed:backup.offsite.schedule"],
  ["keepDaily zero", { ...OFFSITE, keepDaily: 0 }, "ai4artsed:backup.offsite.keepDaily"],
  ["check subset not a part", { ...OFFSITE, checkSubset: "half" }, "ai4artsed:backup.offsite.checkSubset"],
  ["a credential with a quote", { ...OFFSITE, repository: "s3:s3.example.org/bucket", credentials: { AWS_SECRET_ACCESS_KEY: 'a"b' } }, "ai4artsed:backup.offsite.credentials.AWS_SECRET_ACCESS_KEY"],
  ["misspelt key", { ...OFFSITE, keepDayly: 3 }, "ai4artsed:backup.offsite.keepDayly"],
];

for (const [title, offsite, key, secrets] of INVALID) {
  test(`invalid backup config names its key and a fix: ${title}`, () => {
    assert.throws(
      () => parseStackConfig("production", rawConfig({ backup: { offsite } }), secrets ?? SECRET_SECTIONS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        const line = err.problems.find((p) => p.startsWith(key));
        assert.ok(line, `no problem names ${key}:\n${err.message}`);
        assert.match(line!, /pulumi config (set|rm)|is required/, line);
        return true;
      },
    );
  });
}

test("config: the monitor must stay on, it is what notices a failed or stale backup", () => {
  const raw: RawConfig = rawConfig({ backup: { offsite: OFFSITE }, monitor: { enabled: "false" } });
  assert.throws(() => parseStackConfig("production", raw, SECRET_SECTIONS), /backup\.offsite\.enabled: needs monitor\.enabled true/);
  assert.doesNotThrow(() => parseStackConfig("production", rawConfig({ backup: { offsite: { ...OFFSITE, enabled: "false" } }, monitor: { enabled: "false" } }), SECRET_SECTIONS));
});

test("graph: restic from Debian, the backup's steps, secrets only on stdin, removal that keeps the repository", async () => {
  const graph = await buildStack("production", { backup: { offsite: OFFSITE } }, undefined, "off");
  assert.equal(graph.get("off-offsite-backup")!.type, "ai4artsed:backup:OffsiteBackup");
  assert.match(remoteStep(graph, "off-host-packages").create, /\nPACKAGES='git .* restic openssh-client[ ']/);
  const script = remoteStep(graph, "off-offsite-backup-script");
  assert.match(script.create, /\nTARGET_FILE=\/usr\/local\/lib\/ai4artsed\/ai4artsed-production-offsite-backup\.sh\nFILE_MODE=755\n/);
  for (const param of [
    "STACK=production",
    "INSTALL_DIR=/opt/ai4artsed-production",
    "REPOSITORY=sftp:ai4artsed-backup@10.0.0.9:/production",
    "SFTP_LOGIN=ai4artsed-backup@10.0.0.9",
    "SFTP_PORT=22",
    "KEEP_WITHIN_DAYS=7",
    "KEEP_DAILY=7",
    "KEEP_WEEKLY=4",
    "KEEP_MONTHLY=12",
    "CHECK_SUBSET=5%",
  ]) {
    assert.ok(script.stdin.includes(`\n${param}\n`), `backup script lacks ${param}`);
  }
  execFileSync("bash", ["-n", "-c", script.stdin]);
  for (const [step, file] of [
    ["password", "/etc/ai4artsed/ai4artsed-production-offsite-backup.password"],
    ["ssh-key", "/etc/ai4artsed/ai4artsed-production-offsite-backup.ssh-key"],
  ]) {
    const secret = remoteStep(graph, `off-offsite-backup-${step}`);
    assert.match(secret.create, new RegExp(`\\nTARGET_FILE=${file}\\nFILE_MODE=600\\n`));
    assert.ok(secret.secretInputs.has("stdin"), `${step} goes on stdin as a secret`);
  }
  assert.equal(remoteStep(graph, "off-offsite-backup-password").stdin, PASSWORD);
  assert.equal(remoteStep(graph, "off-offsite-backup-known-hosts").stdin, `10.0.0.9 ${TEST_HOST_KEY}\n`);
  for (const resource of graph.values()) {
    for (const field of ["create", "delete"]) {
      const text = String(resource.inputs[field] ?? "");
      assert.ok(!text.includes(PASSWORD) && !text.includes("b3BlbnNzaC1rZXktdjEAAAAA"), `${resource.name} ${field} holds a secret`);
    }
  }
  const timer = remoteStep(graph, "off-offsite-backup-timer");
  assert.match(timer.create, /ENSURE='systemd-analyze calendar "\*-\*-\* 02:30:00"/);
  const remove = remoteStep(graph, "off-offsite-backup-remove");
  assert.equal(remove.create, undefined);
  assert.match(remove.delete, /\nTIMER_UNIT=ai4artsed-production-offsite-backup\n/);
  assert.doesNotMatch(remove.delete.match(/\nFILES=.*\n/)![0], /offsite-backup\.state|\/shared/, "the state and shared/ stay");
  // The health monitor watches the backup's age and result.
  const probe = remoteStep(graph, "off-monitor-probe").stdin;
  for (const param of ["OFFSITE_UNIT=ai4artsed-production-offsite-backup", "OFFSITE_STATE_FILE=/var/lib/ai4artsed/ai4artsed-production-offsite-backup.state", "OFFSITE_MAX_AGE_HOURS=48"]) {
    assert.ok(probe.includes(`\n${param}\n`), `probe lacks ${param}`);
  }
  execFileSync("bash", ["-n", "-c", probe]);
});

test("units: credentials by LoadCredential, a read-only sandbox that cannot see the app's secrets, Persistent timer", () => {
  const spec = {
    unitName: "ai4artsed-production",
    installDir: "/opt/ai4artsed-production",
    repository: OFFSITE.repository,
    schedule: "*-*-* 02:30:00",
    monitorUnit: "ai4artsed-production-health",
    withSshKey: true,
    withCredentials: false,
  };
  const service = renderOffsiteService(spec);
  assert.match(service, /\nLoadCredential=restic-password:\/etc\/ai4artsed\/ai4artsed-production-offsite-backup\.password\nLoadCredential=ssh-key:/);
  assert.match(service, /\nOnSuccess=ai4artsed-production-health\.service\nOnFailure=ai4artsed-production-health\.service\n/);
  assert.match(service, /\nProtectSystem=strict\n[\s\S]*\nCapabilityBoundingSet=CAP_DAC_READ_SEARCH\nInaccessiblePaths=\/etc\/ai4artsed\n$/);
  assert.match(service, /\nNice=10\nIOSchedulingClass=idle\n/);
  const timer = renderOffsiteTimer(spec);
  assert.match(timer, /\nOnCalendar=\*-\*-\* 02:30:00\nPersistent=true\n/);
});

test("preview: the last backup's result and age from the state file, a warning when failed or stale", () => {
  const now = 1_800_000_000;
  const ok = lastBackupReport(`now=${now}\nlast_result=ok\nlast_attempt=${now - 7200}\nlast_success=${now - 7200}\nlast_message=snapshot 1a2b3c4d: 12 files`, 48);
  assert.deepEqual(ok, { warn: false, text: "off-host backup: the last one succeeded 2 h ago (snapshot 1a2b3c4d: 12 files)" });
  const stale = lastBackupReport(`now=${now}\nlast_result=ok\nlast_attempt=${now - 3 * 86400}\nlast_success=${now - 3 * 86400}\nlast_message=snapshot 1a2b3c4d`, 48);
  assert.equal(stale.warn, true);
  assert.match(stale.text, /3 days ago .*older than backup\.offsite\.maxAgeHours \(48\)/);
  const failed = lastBackupReport(`now=${now}\nlast_result=failed\nlast_attempt=${now - 600}\nlast_message=cannot reach the repository`, 48);
  assert.deepEqual(failed, { warn: true, text: "off-host backup: the last one failed 10 min ago: cannot reach the repository; none succeeded yet" });
  assert.equal(lastBackupReport(`now=${now}`, 48).warn, true);
});

test("observe.sh reads the backup's timer, files and status in the one program-time session", async () => {
  const { config } = parseStackConfig("production", rawConfig({ backup: { offsite: OFFSITE } }), SECRET_SECTIONS);
  const { open, commands } = fakeSession(() => ({ code: 0, stdout: FACTS_STDOUT, stderr: "" }));
  await inspectServer("production", "production", config, denyPortsOf(config), { open });
  const command = commands.join("\n");
  assert.match(command, /OFFSITE_UNIT=ai4artsed-production-offsite-backup/);
  assert.match(command, /OFFSITE_SECRET_FILES=.*ai4artsed-production-offsite-backup\.password /);
  assert.ok(!command.includes(PASSWORD), "no secret in the observation command");
});
