/**
 * What the real app needs on a fresh server, checked after its first deploy with the defaults:
 * each check fails without the program's part for it (the fixture reproduces the real app).
 */
import assert from "node:assert/strict";
import { shOk, TestServer } from "./harness";

/** The default tool dirs under AI_TOOLS_BASE (/opt) that the fixture, like the app, creates at import. */
export const TOOL_DIRS = ["/opt/kohya_ss_new/dataset", "/opt/SwarmUI/Models/loras", "/opt/kohya_ss_new/logs"];

export async function assertFirstStartNeedsMet(server: TestServer, installDir: string, serviceUser: string, port: number): Promise<void> {
  // 1. The venv was built although /tmp is a tmpfs smaller than it: pip worked on disk, and cleaned up.
  const [fstype, tmpBytes] = (await shOk(server, "findmnt -n -b -o FSTYPE,SIZE /tmp")).split(/\s+/);
  const venvBytes = Number(await shOk(server, `du -sb --apparent-size ${installDir}/current/venv/ | cut -f1`));
  assert.equal(fstype, "tmpfs");
  assert.ok(venvBytes > Number(tmpBytes), `the venv (${venvBytes} B) is bigger than /tmp (${tmpBytes} B)`);
  assert.equal(await shOk(server, `find ${installDir}/venvs -maxdepth 1 -name '.tmp-*' | wc -l`), "0", "pip's temporary files are gone");
  // 2. WeasyPrint found Debian's Pango at import and renders a PDF on the first request.
  assert.equal(await shOk(server, `curl -sf 'http://127.0.0.1:${port}/api/pdf?title=first' | head -c 5`), "%PDF-");
  // 3. The app wrote its settings password through the shared link on its first start, 0600 as it sets.
  const key = `${installDir}/shared/devserver/settings_password.key`;
  assert.equal(await shOk(server, `readlink ${installDir}/current/devserver/settings_password.key`), key);
  assert.equal(await shOk(server, `stat -c '%a %U' ${key}`), `600 ${serviceUser}`);
  // 4. The tool dirs outside the install dir exist, and the app can write into them now.
  const dirs = JSON.parse(await shOk(server, `curl -sf http://127.0.0.1:${port}/api/training/dirs`));
  assert.deepEqual(Object.keys(dirs).sort(), [...TOOL_DIRS].sort());
  for (const dir of TOOL_DIRS) assert.equal(dirs[dir], "writable", dir);
}
