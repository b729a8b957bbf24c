/**
 * The layers' boundaries, read from the sources' imports: the product (the program, its scripts,
 * the tools, the benchmark) loads no test code, so no mocks; components take from config/ only
 * the typed config; config/ takes nothing from components/.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");
/** What components may take from config/: the validated config's type and the environment names. */
const TYPED_CONFIG = new Set(["StackConfig", "EnvironmentName"]);

function tsFilesUnder(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : tsFilesUnder(rel);
    return entry.name.endsWith(".ts") ? [rel] : [];
  });
}

interface Import {
  readonly names: string[];
  /** Repository-relative path of the imported file; undefined for a package. */
  readonly file?: string;
}

function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest);
  const found: Import[] = [];
  for (const statement of source.statements) {
    if ((!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) || !statement.moduleSpecifier) continue;
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
    const bindings = ts.isImportDeclaration(statement) ? statement.importClause?.namedBindings : statement.exportClause;
    const names = bindings && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings)) ? bindings.elements.map((e) => (e.propertyName ?? e.name).text) : ["*"];
    if (!specifier.startsWith(".")) {
      found.push({ names });
      continue;
    }
    const target = path.normalize(path.join(path.dirname(file), specifier));
    const resolved = [`${target}.ts`, path.join(target, "index.ts")].find((candidate) => fs.existsSync(path.join(ROOT, candidate)));
    found.push({ names, file: resolved ?? target });
  }
  return found;
}

/** Every file an entry loads, following relative imports. */
function loadedBy(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !file.endsWith(".ts")) continue;
    seen.add(file);
    for (const imported of importsOf(file)) if (imported.file) queue.push(imported.file);
  }
  return seen;
}

test("layout: the program, its scripts, the tools and the benchmark load no test code", () => {
  const entries = ["index.ts", ...tsFilesUnder("scripts"), ...tsFilesUnder("tools"), ...tsFilesUnder("bench")];
  const loaded = [...loadedBy(entries)];
  assert.ok(loaded.includes(path.join("bench", "heavy.ts")) && loaded.includes(path.join("components", "environment.ts")), loaded.join(" "));
  assert.deepEqual(
    loaded.filter((file) => file.split(path.sep)[0] === "test"),
    [],
  );
});

test("layout: components take only the typed config from config/, and config/ nothing from components/", () => {
  const wrong: string[] = [];
  for (const file of tsFilesUnder("components")) {
    for (const imported of importsOf(file)) {
      if (imported.file?.split(path.sep)[0] !== "config") continue;
      const extra = imported.names.filter((name) => !TYPED_CONFIG.has(name));
      if (extra.length > 0) wrong.push(`${file} imports ${extra.join(", ")} from ${imported.file}`);
    }
  }
  for (const file of tsFilesUnder("config")) {
    for (const imported of importsOf(file)) {
      if (imported.file?.split(path.sep)[0] === "components") wrong.push(`${file} imports ${imported.file}`);
    }
  }
  assert.deepEqual(wrong, []);
});
