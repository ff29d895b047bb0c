/**
 * The end-to-end suites run the real `queue` binary, and the binary runs dist/, not src/. `npm test`
 * builds first; a suite run on its own (`node --import tsx --test test/e2e/x.test.ts`) builds here
 * when anything under src/ is newer than the last build, so it never tests stale code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '../..');
let checked = false;

export function ensureBuilt(): void {
  if (checked) return;
  const stamp = path.join(repo, 'dist', '.built');
  const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (newestChange(path.join(repo, 'src')) > builtAt) {
    execFileSync(process.execPath, [path.join(repo, 'scripts/build.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  checked = true;
}

/** The latest mtime of any file or folder under `dir` (a folder's changes when a file is removed). */
function newestChange(dir: string): number {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestChange(full) : statSync(full).mtimeMs);
  }
  return newest;
}
