// The entry point `pulumi` runs (package.json "main"): index.ts and what it imports, transpiled
// once per content into node_modules/.cache and loaded as plain JavaScript. Transpiling every
// run (ts-node) cost more than the rest of the program's start. A changed source is a new key,
// so a stale build never runs. The type check is the test command's (tsc --noEmit).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const SOURCES = ["index.ts", "config", "components", "lib"];
/** Left in place, not compiled: the remote scripts are read at run time (components/steps/commands.ts). */
const LINKED = ["components/remote"];
const CACHE = path.join(__dirname, "node_modules", ".cache", "ai4artsed-program");

function tsFiles(entry) {
  const full = path.join(__dirname, entry);
  if (!fs.statSync(full).isDirectory()) return entry.endsWith(".ts") ? [entry] : [];
  if (LINKED.includes(entry)) return [];
  return fs.readdirSync(full).sort().flatMap((name) => tsFiles(path.join(entry, name)));
}

function build(files, sources, dir) {
  const ts = require("typescript");
  const { config } = ts.readConfigFile(path.join(__dirname, "tsconfig.json"), ts.sys.readFile);
  const compilerOptions = { ...config.compilerOptions, noEmit: false, module: "commonjs", moduleResolution: "node" };
  const work = `${dir}.${process.pid}.tmp`;
  fs.rmSync(work, { recursive: true, force: true });
  files.forEach((file, i) => {
    const { outputText } = ts.transpileModule(sources[i], { compilerOptions, fileName: file });
    const out = path.join(work, file.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, outputText);
  });
  for (const entry of LINKED) fs.symlinkSync(path.join(__dirname, entry), path.join(work, entry));
  try {
    fs.renameSync(work, dir);
  } catch (err) {
    // Another run built the same key meanwhile: use that one.
    fs.rmSync(work, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, "index.js"))) throw err;
  }
}

const files = SOURCES.flatMap(tsFiles);
const sources = files.map((file) => fs.readFileSync(path.join(__dirname, file), "utf8"));
// The checkout is part of the key: the build links back to its remote scripts.
const hash = crypto.createHash("sha256").update(`${__dirname}\0${require("typescript/package.json").version}\0`);
hash.update(fs.readFileSync(path.join(__dirname, "tsconfig.json")));
files.forEach((file, i) => hash.update(`\0${file}\0${sources[i]}`));
const dir = path.join(CACHE, hash.digest("hex").slice(0, 16));
if (!fs.existsSync(path.join(dir, "index.js"))) {
  fs.mkdirSync(CACHE, { recursive: true });
  const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
  for (const old of fs.readdirSync(CACHE)) {
    const oldDir = path.join(CACHE, old);
    if (fs.statSync(oldDir).mtimeMs < weekAgo) fs.rmSync(oldDir, { recursive: true, force: true });
  }
  build(files, sources, dir);
}
module.exports = require(path.join(dir, "index.js"));
