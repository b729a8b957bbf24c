/**
 * What the release step imports of the app (remote/lib/app-imports.sh), run with this machine's
 * Python on small apps written to a temp dir, without a server; and the venv's recorded
 * resolution as the program keeps it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { recordResolution, resolutionOf } from "../../components/release/pythonEnv";
import { REMOTE_DIR } from "../../components/steps/commands";

/** Writes the files (path -> text) into a temp dir and runs the check on its entries there. */
function check(files: Record<string, string>, entries: string[], known = ""): { code: number; lines: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai4artsed-imports-"));
  try {
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    const program = spawnSync("bash", ["-c", `source ${path.join(REMOTE_DIR, "lib", "app-imports.sh")} && app_imports_program`]).stdout;
    const run = spawnSync("python3", ["-I", "-B", "-", ...entries.map((e) => path.join(dir, e))], {
      input: program,
      cwd: dir,
      env: { ...process.env, APP_IMPORTS_KNOWN: known },
    });
    return { code: run.status ?? -1, lines: run.stdout.toString().trim().split("\n") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const APP = {
  "backend/server.py": "import os\nfrom my_app import create_app\nimport json as _json\n",
  "backend/my_app/__init__.py": "from .routes import chat\nfrom . import helpers\n\ndef create_app():\n    import lazy_missing_module\n",
  "backend/my_app/routes/__init__.py": "",
  "backend/my_app/routes/chat.py": "try:\n    import guarded_missing_module\nexcept ImportError:\n    guarded_missing_module = None\nimport email.mime.text\n",
  "backend/my_app/helpers.py": "import required_missing_module.sub\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typed_only_module\n",
  "backend/unreached.py": "import never_reached_module\n",
};

test("an import at start that fails is required; a lazy or guarded one is optional; stdlib, own and unreached modules are left alone", () => {
  const { code, lines } = check(APP, ["backend/server.py"]);
  assert.equal(code, 1);
  assert.deepEqual(lines, [
    "optional guarded_missing_module: ModuleNotFoundError: No module named 'guarded_missing_module'",
    "optional lazy_missing_module: ModuleNotFoundError: No module named 'lazy_missing_module'",
    "required required_missing_module: ModuleNotFoundError: No module named 'required_missing_module'",
    "@@imported",
  ]);
});

test("only optional failures pass; modules imported before from the venv are not imported again", () => {
  const files = { ...APP, "backend/my_app/helpers.py": "import required_missing_module\n" };
  const { code, lines } = check(files, ["backend/server.py"], "required_missing_module");
  assert.equal(code, 0);
  assert.equal(lines.at(-1), "@@imported required_missing_module");
});

test("each entry finds its own modules from its own directory: they are never imported, whatever they do", () => {
  const files = {
    "a/server.py": "import svc_helpers\n",
    "a/svc_helpers.py": "import json\n",
    "b/server.py": "import b_only\n",
    "b/b_only.py": "import sys\nsys.exit('a module that stops the interpreter')\n",
  };
  // b_only is b's own module: not imported, so nothing fails.
  assert.equal(check(files, ["a/server.py", "b/server.py"]).code, 0);
});

test("a recorded resolution stays as first recorded, newest blob first, as many as releases are kept", () => {
  let recorded = recordResolution(undefined, "b1", "flask==3.1.3\n", 2);
  assert.deepEqual(recorded, { b1: "flask==3.1.3\n" });
  recorded = recordResolution(recorded, "b1", "flask==9.9.9\n", 2);
  assert.deepEqual(recorded, { b1: "flask==3.1.3\n" }, "a rebuild never replaces the record");
  recorded = recordResolution(recorded, "b2", "flask==3.2.0\n", 2);
  recorded = recordResolution(recorded, "b3", "flask==3.3.0\n", 2);
  assert.deepEqual(Object.keys(recorded), ["b3", "b2"]);
  assert.deepEqual(recordResolution(recorded, "b4", undefined, 2), recorded, "an unknown resolution records nothing");
});

test("the venv step's result decodes to its name==version list", () => {
  const list = "fixture-pinned==1.0\ntorch==2.5.0+cu121\n";
  const encoded = Buffer.from(list).toString("base64url");
  assert.equal(resolutionOf(`[python-env] built\n@@result {"resolution":"${encoded}"}\n`), list);
  assert.equal(resolutionOf("[python-env] reusing\n"), undefined);
});
