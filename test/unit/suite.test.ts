import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

/** `npm test` runs several server test files at once; `testserver.sh up` on a name that is up boots it afresh. */
test("server test files: each names its test servers with a prefix of its own, so two files at once never share one", () => {
  const owners = new Map<string, string>();
  for (const dir of ["test/host", "test/e2e"]) {
    for (const file of fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith(".test.ts"))) {
      const text = fs.readFileSync(path.join(ROOT, dir, file), "utf8");
      for (const [, prefix] of text.matchAll(/`(ai4[a-z]+)\$\{process\.pid/g)) {
        const other = owners.get(prefix);
        assert.ok(other === undefined || other === `${dir}/${file}`, `${dir}/${file} and ${other} both name servers ${prefix}<pid>; give one a letter of its own`);
        owners.set(prefix, `${dir}/${file}`);
      }
    }
  }
  assert.ok(owners.size >= 14, `found ${owners.size} prefixes`);
});
