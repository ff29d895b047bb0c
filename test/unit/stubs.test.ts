/**
 * What `queue init` writes is this repository's own working example, and its .env.example documents
 * every variable the code reads.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { INIT_FILES } from '../../src/cli/commands/init.ts';
import { stub } from '../../src/cli/stubs.ts';
import { repoRoot } from '../helpers/cli.ts';

function sourceText(dir: string): string {
  return readdirSync(dir, { withFileTypes: true }).map((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceText(full);
    return entry.name.endsWith('.ts') ? readFileSync(full, 'utf8') : '';
  }).join('\n');
}

describe('queue init stubs', () => {
  it('are the files this repository runs on: its example job, config/queue.ts and .env.example', async () => {
    for (const [file, name] of Object.entries(INIT_FILES)) {
      assert.equal(await stub(name), readFileSync(path.join(repoRoot, file), 'utf8'), `${file} and stubs/${name} differ`);
    }
  });

  it('.env.example names every variable the library and the config read', () => {
    const code = `${sourceText(path.join(repoRoot, 'src'))}\n${readFileSync(path.join(repoRoot, 'config/queue.ts'), 'utf8')}`;
    const read = new Set([...code.matchAll(/env\.(?:string|optional|int|bool|oneOf|url)\('([A-Z_]+)'|raw\('([A-Z_]+)'\)|process\.env\.([A-Z_]+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!));
    read.delete('CI');
    const documented = readFileSync(path.join(repoRoot, '.env.example'), 'utf8');
    const missing = [...read].filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(documented));
    assert.deepEqual(missing, []);
    assert.ok(read.size > 20, `found the variables (${read.size})`);
  });
});
