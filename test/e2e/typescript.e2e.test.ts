/**
 * The binary with a project's TypeScript and no TypeScript loader: config/queue.ts and app/jobs are
 * compiled into node_modules/.cache/queue on first use, reused while unchanged, compiled once by
 * four workers starting together, and their errors and stack traces name the original .ts files.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { ensureBuilt } from '../helpers/build.ts';
import { repoRoot, run, runOk, testEnv, type RunResult } from '../helpers/cli.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A project of its own (files by path -> source), with no package.json and no node_modules. */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'queue-ts-'));
  dirs.push(root);
  for (const [name, source] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), source);
  }
  return root;
}

const SHARED = "export const loads: string[] = [];\nexport function note(name: string): number { return loads.push(name); }\n";

/** A job that notes its loading in the shared helper, and when it runs logs every load the helper saw. */
function job(name: string, importPath: string): string {
  return [
    "import { Job, type JobContext } from 'queuework';",
    `import { loads, note } from '${importPath}';`,
    '',
    `note('${name}');`,
    '',
    `export default class ${name} extends Job {`,
    '  static queue = "ts";',
    '  handle(ctx: JobContext): void {',
    "    ctx.log.info({ loads: loads.join(',') }, 'loaded');",
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The compiled files in a project's cache, without their path hashes. */
function compiledFiles(root: string): string[] {
  return readdirSync(path.join(root, 'node_modules/.cache/queue')).map((file) => file.replace(/^[0-9a-f]{16}-/, '')).sort();
}

function oneLineError(result: RunResult, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, pattern);
}

describe('TypeScript projects under the binary', () => {
  it("lists jobs that import 'queuework' and share one helper module, however they name it", async () => {
    const root = project({
      'app/jobs/_shared.ts': SHARED,
      'app/jobs/First.ts': job('First', './_shared.ts'),
      'app/jobs/Second.ts': job('Second', './_shared'),
      'app/jobs/billing/Third.ts': job('Third', '../_shared.js'),
    });
    const result = await runOk(['jobs', '--json'], testEnv({}, 'sqlite'), { cwd: root });
    const jobs = (JSON.parse(result.stdout) as { name: string; file: string }[]).map((j) => j.name);
    assert.deepEqual(jobs.sort(), ['First', 'Second', 'billing/Third']);
    assert.deepEqual(compiledFiles(root), ['First.mjs', 'Second.mjs', 'Third.mjs', '_shared.mjs']);
    const t = testEnv({}, 'sqlite');
    await runOk(['dispatch', 'billing/Third'], t, { cwd: root });
    const worked = await runOk(['work', '--queue', 'ts', '--stop-when-empty'], t, { cwd: root });
    // One helper module for all three: it saw every job load (in the registry's order).
    assert.match(worked.stdout, /"loads":"Third,First,Second","msg":"loaded"/);
  });

  it('stack traces of a failed job name the .ts file and line', async () => {
    const root = project({
      'app/jobs/Boom.ts': [
        "import { Job } from 'queuework';",
        '',
        'type Reason = { why: string };',
        '',
        'export default class Boom extends Job {',
        '  handle(): void {',
        "    const reason: Reason = { why: 'boom' };",
        '    throw new Error(reason.why);',
        '  }',
        '}',
        '',
      ].join('\n'),
    });
    const t = testEnv({}, 'sqlite');
    await runOk(['dispatch', 'Boom'], t, { cwd: root });
    await runOk(['work', '--stop-when-empty', '--max-tries', '1'], t, { cwd: root });
    const [failed] = JSON.parse((await runOk(['failed:list', '--json'], t, { cwd: root })).stdout) as { error: string }[];
    assert.ok(failed!.error.includes(`at Boom.handle (${path.join(root, 'app/jobs/Boom.ts')}:8:11)`), failed!.error);
  });

  it('a job file that does not compile is a one-line JOB_FILE_INVALID error naming the file and line', async () => {
    const root = project({ 'app/jobs/Broken.ts': "import { Job } from 'queuework';\nexport default class Broken extends Job {\n  handle(): void { return ) }\n}\n" });
    oneLineError(await run(['work', '--stop-when-empty'], testEnv({}, 'sqlite'), { cwd: root }), /^error: app\/jobs\/Broken\.ts could not be loaded: app\/jobs\/Broken\.ts:3:\d+: Unexpected "\)"$/);
  });

  it('a config/queue.ts that does not compile is a one-line error naming it', async () => {
    const root = project({ 'config/queue.ts': "import { defineConfig } from 'queuework';\nexport default defineConfig({ default: 'sync', connections: { sync: { driver: 'sync' } } ;\n" });
    oneLineError(await run(['status'], testEnv({}, 'sqlite'), { cwd: root }), /^error: config\/queue\.ts could not be loaded: config\/queue\.ts:2:\d+: /);
  });

  it('compiles a file again only when it changed, and four workers starting together compile each file once', async () => {
    const root = project({ 'app/jobs/_shared.ts': SHARED, 'app/jobs/First.ts': job('First', './_shared.ts'), 'app/jobs/Second.ts': job('Second', './_shared.ts') });
    const t = testEnv({}, 'sqlite');
    const results = await Promise.all([1, 2, 3, 4].map(() => run(['jobs', '--json'], t, { cwd: root })));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(compiledFiles(root), ['First.mjs', 'Second.mjs', '_shared.mjs'], 'no temp files left over');
    const cache = path.join(root, 'node_modules/.cache/queue');
    const files = readdirSync(cache);
    const stamps = () => Object.fromEntries(files.map((file) => [file, statSync(path.join(cache, file)).mtimeMs]));
    const before = stamps();
    await runOk(['jobs', '--json'], t, { cwd: root });
    assert.deepEqual(stamps(), before, 'unchanged sources are not compiled again');
    writeFileSync(path.join(root, 'app/jobs/Second.ts'), job('Second', './_shared.ts').replace("'loaded'", "'loaded again'"));
    await runOk(['jobs', '--json'], t, { cwd: root });
    const after = stamps();
    const changed = files.filter((file) => after[file] !== before[file]);
    assert.deepEqual(changed.map((file) => file.replace(/^[0-9a-f]{16}-/, '')), ['Second.mjs']);
    assert.match(readFileSync(path.join(cache, changed[0]!), 'utf8'), /loaded again/);
  });

  it("loads job files through the cache, never through Node's own type stripping (22.18+), whose stripper would stay in memory", () => {
    ensureBuilt();
    const root = project({ 'app/jobs/Plain.ts': "import { Job } from 'queuework';\nexport default class Plain extends Job {\n  handle(): void {}\n}\n" });
    // What the binary does (no loader registered), then which of Node's internal modules it loaded.
    const script = `const { importProjectModule } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist/modules/import.js')).href)});
      const loaded = await importProjectModule(${JSON.stringify(path.join(root, 'app/jobs/Plain.ts'))}, ${JSON.stringify(root)});
      console.log(JSON.stringify({ job: typeof loaded.default, stripper: process.moduleLoadList.filter((m) => /amaro/.test(m)) }));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { job: 'function', stripper: [] });
    assert.ok(compiledFiles(root).includes('Plain.mjs'), 'compiled into the cache');
  });

  it('without dist/ the binary says to build it, in one line', async () => {
    const unbuilt = project({});
    mkdirSync(path.join(unbuilt, 'bin'));
    copyFileSync(path.join(repoRoot, 'bin/queue.js'), path.join(unbuilt, 'bin/queue.js'));
    const result = spawnSync(process.execPath, [path.join(unbuilt, 'bin/queue.js'), 'status'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'error: queue is not built (dist/cli/main.js is missing); run `npm run build` (or `npm ci`, which builds it)\n');
  });
});
