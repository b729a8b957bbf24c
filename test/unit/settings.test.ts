/**
 * Every setting the schema accepts has its example (shown with each error) and its row in docs/settings.md;
 * nothing names a setting the schema does not have.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { configSchema, EXAMPLES, LIST_SETTINGS } from "../../config/schema";
import { ENVIRONMENTS } from "../../config/defaults";

interface Setting {
  readonly name: string;
  readonly kind: string;
}

/** The schema's settings: its leaves, by dotted path, with their zod type (object, record, array, ...). */
function settingsOf(schema: any, prefix = "", out: Setting[] = []): Setting[] {
  const def = schema._zod.def;
  if (["default", "prefault", "optional", "nullable"].includes(def.type)) return settingsOf(def.innerType, prefix, out);
  // The schema's last stage fills derived defaults (a transform): the settings are its input's.
  if (def.type === "pipe") return settingsOf(def.in, prefix, out);
  if (def.type === "object") {
    for (const [key, value] of Object.entries(def.shape)) settingsOf(value, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.push({ name: prefix, kind: def.type });
  }
  return out;
}

/**
 * The names the settings tables of docs/settings.md give: a row's first cell, where `a.b.c` / `d` means
 * a.b.c and a.b.d, `a.b.<NAME>` means the map a.b, and `a.*` stands for the whole section a.
 */
function settingsRows(readme: string): { names: Set<string>; wildcards: string[] } {
  const names = new Set<string>();
  const wildcards: string[] = [];
  let inSettings = false;
  for (const line of readme.split("\n")) {
    // Settings tables are those whose header is `| key | default | meaning |`.
    if (!line.startsWith("|")) inSettings = false;
    else if (line.startsWith("| key |")) inSettings = true;
    const cell = line.match(/^\| (`[^|]+)\|/)?.[1];
    if (!cell || !inSettings) continue;
    let parent = "";
    for (const [, raw] of cell.matchAll(/`([^`]+)`/g)) {
      const name = raw.replace(/\.<NAME>$/, "");
      if (name.endsWith(".*")) wildcards.push(name.slice(0, -1));
      else if (name.includes(".") || parent === "") {
        names.add(name);
        parent = name.includes(".") ? name.slice(0, name.lastIndexOf(".") + 1) : "";
      } else names.add(`${parent}${name}`);
    }
  }
  return { names, wildcards };
}

/** The settings reference: docs/settings.md. */
const SETTINGS_DOC = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "settings.md"), "utf8");

for (const environment of ENVIRONMENTS) {
  test(`${environment}: every setting has an example and a row in docs/settings.md; every example and list names a setting`, () => {
    const settings = settingsOf(configSchema(environment));
    const names = new Set(settings.map((s) => s.name));
    const { names: rows, wildcards } = settingsRows(SETTINGS_DOC);
    assert.deepEqual(settings.filter((s) => !(s.name in EXAMPLES)).map((s) => s.name), [], "settings without an example (config/schema.ts EXAMPLES)");
    assert.deepEqual(
      settings.filter((s) => !rows.has(s.name) && !wildcards.some((w) => s.name.startsWith(w))).map((s) => s.name),
      [],
      "settings without a row in docs/settings.md",
    );
    assert.deepEqual(Object.keys(EXAMPLES).filter((key) => !names.has(key)), [], "examples of settings the schema does not have");
    assert.deepEqual(
      settings.filter((s) => s.kind === "array").map((s) => s.name).sort(),
      [...LIST_SETTINGS].sort(),
      "LIST_SETTINGS is exactly the list settings",
    );
  });
}

test("the rows of docs/settings.md name only settings the schema has", () => {
  const names = new Set(ENVIRONMENTS.flatMap((environment) => settingsOf(configSchema(environment)).map((s) => s.name)));
  const { names: rows, wildcards } = settingsRows(SETTINGS_DOC);
  assert.deepEqual([...rows].filter((row) => !names.has(row)), []);
  for (const wildcard of wildcards) assert.ok([...names].some((n) => n.startsWith(wildcard)), `${wildcard}* names no setting`);
});
