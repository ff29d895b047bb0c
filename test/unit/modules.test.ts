/**
 * The project-module loader: how the binary, which registers no TypeScript loader, compiles and
 * imports config/queue.ts and app/jobs. This process runs under tsx, so importProjectModule()
 * imports TypeScript natively here; importCompiled() is the binary's path, called directly.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Job } from '../../src/index.ts';
import { discoverJobs } from '../../src/jobs/registry.ts';
import { cacheDirectory, importCompiled, importProjectModule } from '../../src/modules/import.ts';
import { ownPackage, resolveImport } from '../../src/modules/resolve.ts';
import { ensureBuilt } from '../helpers/build.ts';
import { repoRoot } from '../helpers/cli.ts';
import { queueError } from '../helpers/errors.ts';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A throwaway project: files by path relative to its root (name -> source). */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'queue-modules-'));
  roots.push(root);
  for (const [name, source] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), source);
  }
  return root;
}

function job(className: string, lines: string[] = []): string {
  return [`import { Job } from 'queuework';`, ...lines, `export default class ${className} extends Job {`, '  handle(): void {}', '}', ''].join('\n');
}

describe('importCompiled (the binary: no TypeScript loader)', () => {
  it('loads a helper that several jobs import once, by .ts, .js or no extension, so they share its state', async () => {
    const root = project({
      'app/jobs/_shared.ts': 'export const loads: string[] = [];\nexport let count: number = 0;\nexport function bump(): number { return ++count; }\n',
      'app/jobs/First.ts': job('First', [`import { loads, bump } from './_shared.ts';`, `loads.push('First'); bump();`, 'export { loads };']),
      'app/jobs/Second.ts': job('Second', [`import { loads, bump } from './_shared.js';`, `loads.push('Second'); bump();`, 'export { loads };']),
      'app/jobs/Third.ts': job('Third', [`import * as shared from './_shared';`, `shared.loads.push('Third'); shared.bump();`, 'export const loads = shared.loads;', 'export const count = () => shared.count;']),
    });
    const first = await importCompiled(path.join(root, 'app/jobs/First.ts'), root);
    const second = await importCompiled(path.join(root, 'app/jobs/Second.ts'), root);
    const third = await importCompiled(path.join(root, 'app/jobs/Third.ts'), root);
    assert.equal(first.loads, second.loads);
    assert.equal(first.loads, third.loads);
    assert.deepEqual(first.loads, ['First', 'Second', 'Third']);
    assert.equal((third.count as () => number)(), 3);
    // One compiled file per source file, in the project's cache folder.
    assert.deepEqual(readdirSync(cacheDirectory(root)).map((name) => name.replace(/^[0-9a-f]{16}-/, '')).sort(), ['First.mjs', 'Second.mjs', 'Third.mjs', '_shared.mjs']);
  });

  it("resolves 'queuework' to the running copy, so compiled jobs extend this process's Job", async () => {
    const root = project({ 'app/jobs/Mail.ts': job('Mail') });
    const { default: Mail } = await importCompiled(path.join(root, 'app/jobs/Mail.ts'), root);
    assert.equal(Object.getPrototypeOf(Mail), Job);
    assert.equal(resolveImport('queuework', path.join(root, 'app/jobs/Mail.ts')), ownPackage().index);
    assert.equal(ownPackage().index, new URL('../../src/index.ts', import.meta.url).href);
    assert.equal(ownPackage().name, JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).name);
  });

  it('keeps ES module meaning: import.meta describes the original file, top-level await works', async () => {
    const root = project({
      'config/queue.ts': [
        'export const url: string = import.meta.url;',
        'export const filename = import.meta.filename;',
        'export const dirname = import.meta.dirname;',
        'export const answer = await Promise.resolve(42);',
        '',
      ].join('\n'),
    });
    const file = path.join(root, 'config/queue.ts');
    const module = await importCompiled(file, root);
    assert.equal(module.url, pathToFileURL(file).href);
    assert.equal(module.filename, file);
    assert.equal(module.dirname, path.dirname(file));
    assert.equal(module.answer, 42);
  });

  it('compiles TypeScript-only syntax and keeps import attributes (JSON modules need them)', async () => {
    const root = project({
      'app/jobs/_data.json': '{"greeting": "hi"}\n',
      'app/jobs/_typed.ts': [
        "import data from './_data.json' with { type: 'json' };",
        "enum Color { Red = 'red' }",
        'class Greeter {',
        '  constructor(private readonly name: string) {}',
        '  greet(): string { return `${data.greeting} ${this.name} ${Color.Red}`; }',
        '}',
        "export const greeting = new Greeter('ada').greet();",
        '',
      ].join('\n'),
    });
    const module = await importCompiled(path.join(root, 'app/jobs/_typed.ts'), root);
    assert.equal(module.greeting, 'hi ada red');
  });

  it('resolves packages from the original file, so they load from the project and are the same copy', async () => {
    const root = project({ 'app/jobs/Logs.ts': "export { default as pino } from 'pino';\nexport { Kysely } from 'kysely';\n" });
    // The project has no node_modules of its own: link this repo's, as an installed project has it.
    mkdirSync(path.join(root, 'node_modules'));
    symlinkSync(path.join(repoRoot, 'node_modules', 'pino'), path.join(root, 'node_modules', 'pino'));
    symlinkSync(path.join(repoRoot, 'node_modules', 'kysely'), path.join(root, 'node_modules', 'kysely'));
    const module = await importCompiled(path.join(root, 'app/jobs/Logs.ts'), root);
    assert.equal(module.pino, (await import('pino')).default);
    assert.equal(module.Kysely, (await import('kysely')).Kysely);
  });

  it('reports a syntax error with the file, line and column', async () => {
    const root = project({ 'app/jobs/Broken.ts': "import { Job } from 'queuework';\nexport default class Broken extends Job {\n  handle(): void { return ) }\n}\n" });
    await assert.rejects(importCompiled(path.join(root, 'app/jobs/Broken.ts'), root), (error: Error) => {
      assert.match(error.message, /^app\/jobs\/Broken\.ts:3:\d+: /);
      return true;
    });
  });

  it('reports an import that resolves to nothing, naming it and the importing file', async () => {
    const root = project({ 'app/jobs/Lonely.ts': job('Lonely', ["import { helper } from './_missing.ts';", 'helper();']) });
    await assert.rejects(importCompiled(path.join(root, 'app/jobs/Lonely.ts'), root), (error: Error) => {
      assert.match(error.message, /^app\/jobs\/Lonely\.ts:2:\d+: .*_missing\.ts/);
      return true;
    });
  });

  it('leaves a dynamic import of something missing to fail when it runs, as it would have', async () => {
    const root = project({ 'app/jobs/Optional.ts': "export async function load(): Promise<string> {\n  try { await import('no-such-package'); return 'found'; } catch { return 'absent'; }\n}\n" });
    const module = await importCompiled(path.join(root, 'app/jobs/Optional.ts'), root);
    assert.equal(await (module.load as () => Promise<string>)(), 'absent');
  });

  it('compiles nothing for a plain JavaScript file', async () => {
    const root = project({ 'config/queue.mjs': 'export default { plain: true };\n' });
    const module = await importProjectModule(path.join(root, 'config/queue.mjs'), root);
    assert.deepEqual(module.default, { plain: true });
  });
});

describe('importProjectModule under tsx', () => {
  it('imports TypeScript natively when the process can, so jobs are the classes the application imported', async () => {
    const root = project({ 'app/jobs/Native.ts': job('Native') });
    const file = path.join(root, 'app/jobs/Native.ts');
    const viaLoader = await importProjectModule(file, root);
    const direct = await import(pathToFileURL(file).href);
    assert.equal(viaLoader.default, direct.default);
  });

  it("compiles them instead when tsx would give 'queuework' another copy than the running one (the built library loaded under tsx)", async () => {
    ensureBuilt();
    const built = (await import(new URL('../../dist/jobs/registry.js', import.meta.url).href)) as typeof import('../../src/jobs/registry.ts');
    const { Job: BuiltJob } = (await import(new URL('../../dist/index.js', import.meta.url).href)) as typeof import('../../src/index.ts');
    const root = project({ 'app/jobs/Twice.ts': job('Twice') });
    const registry = await built.discoverJobs(root, path.join(root, 'app/jobs'));
    const twice = registry.require('Twice').jobClass;
    assert.ok(twice.prototype instanceof BuiltJob, 'the job extends the Job of the running (built) copy');
    assert.ok(!(twice.prototype instanceof Job));
  });
});

describe('discoverJobs refuses a job file that does not compile', () => {
  it('with JOB_FILE_INVALID naming the file', async () => {
    const root = project({ 'package.json': '{"type": "module"}\n', 'app/jobs/Broken.ts': "export default class Broken {\n  handle(): void { return ) }\n}\n" });
    await assert.rejects(discoverJobs(root, path.join(root, 'app/jobs')), queueError('JOB_FILE_INVALID', path.join('app', 'jobs', 'Broken.ts')));
  });
});
