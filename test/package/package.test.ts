/**
 * The package as a new user gets it: `npm pack` here, then in a fresh project of its own (nothing
 * linked to this repository, every other package from the registry) `npm install` of the tarball,
 * `npx queue init`, the two commands it prints (a job dispatched and worked on SQLite), a strict
 * `tsc` under NodeNext and bundler resolution on code using the public API, a Queue.fake() test
 * under node:test, Vitest and Jest, and the one-line error for a driver package that is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../helpers/cli.ts';

const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string; devDependencies: Record<string, string> };
const work = mkdtempSync(path.join(tmpdir(), 'queue-package-'));
const project = path.join(work, 'shop');

/**
 * The environment of a command in the new project: this process's, minus what `npm test` exports
 * about this repository (its package fields and lifecycle), which would leak into npm run there,
 * and node:test's mark of a child run (a `node --test` there would report to this runner instead).
 */
function projectEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_|^npm_command$|^npm_config_local_prefix$|^INIT_CWD$|^NODE_TEST_CONTEXT$/.test(name)) delete env[name];
  }
  return env;
}

/** Runs a command in the project; returns its exit code and output (stdout then stderr). */
function inProject(command: string, args: string[], extra: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd: project, env: projectEnv(extra), encoding: 'utf8', timeout: 600_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(command: string, args: string[], extra: Record<string, string> = {}): string {
  const result = inProject(command, args, extra);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
  writeFileSync(path.join(project, file), text);
}

/** Strict settings a careful user has, with their module resolution. */
function tsconfig(module: 'NodeNext' | 'ESNext', moduleResolution: 'NodeNext' | 'Bundler'): string {
  return JSON.stringify({
    compilerOptions: { target: 'ES2022', module, moduleResolution, strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true, types: ['node'] },
    include: ['app', 'config', 'src'],
  });
}

let tarball = '';
let contents: string[] = [];

describe('the package, installed into a new project', () => {
  before(() => {
    // `npm pack` runs `prepare`: dist/ with its .d.ts files, built afresh. It runs in a copy of the
    // repository (its node_modules linked), so the repository's own dist/, which the end-to-end tests
    // beside this one run, is never rebuilt under them.
    const staged = path.join(work, 'staged');
    mkdirSync(staged);
    for (const entry of ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'bin', 'docs', 'scripts', 'src', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(path.join(repoRoot, entry), path.join(staged, entry), { recursive: true });
    }
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(staged, 'node_modules'));
    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: staged, env: projectEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [pack] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, pack!.filename);
    contents = pack!.files.map((file) => file.path);
    mkdirSync(project);
    // What `npm init -y` writes, with ES modules as the README asks.
    write('package.json', JSON.stringify({ name: 'shop', version: '1.0.0', private: true, type: 'module' }, null, 2));
    const dev = manifest.devDependencies;
    ok('npm', ['install', '--no-audit', '--no-fund', tarball, `typescript@${dev.typescript}`, `@types/node@${dev['@types/node']}`, `tsx@${dev.tsx}`, 'vitest@4', 'jest@30']);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships dist/ with its declarations and stubs, bin/, docs/, README and LICENSE; no sources, tests or app', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'bin/queue.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/cli/stubs/job.stub', 'dist/cli/stubs/example-job.stub', 'dist/drivers/redis/lua/turn.lua']) {
      assert.ok(contents.includes(file), `the tarball has ${file}`);
    }
    assert.deepEqual(contents.filter((file) => !/^(dist|bin)\/|^docs\/[a-z-]+\.md$/.test(file) && !['package.json', 'README.md', 'LICENSE'].includes(file)), []);
    assert.deepEqual(contents.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')), []);
  });

  it('`npx queue --version` names the package', () => {
    assert.equal(ok('npx', ['queue', '--version']).trim(), `${manifest.name} ${manifest.version}`);
  });

  it('`npx queue init` sets the project up, and the two commands it prints process a job on SQLite', () => {
    const output = ok('npx', ['queue', 'init']);
    for (const file of ['app/jobs/SendWelcomeEmail.ts', 'config/queue.ts', 'config/schedule.ts', '.env.example']) assert.match(output, new RegExp(`created ${file.replace('.', '\\.')}`));
    const env = readFileSync(path.join(project, '.env.example'), 'utf8');
    for (const name of ['APP_KEY', 'QUEUE_SIGNED', 'QUEUE_MAX_PAYLOAD_BYTES', 'QUEUE_CONNECTION', 'REDIS_URL']) assert.match(env, new RegExp(`^#? ?${name}=`, 'm'));
    const next = output.split('\n').filter((line) => line.startsWith('  npx queue ')).map((line) => line.trim());
    assert.equal(next.length, 2, output);
    // The printed commands, run by a shell as the user pastes them.
    const dispatched = ok('sh', ['-c', next[0]!]).trim();
    assert.match(dispatched, /^[0-9a-f-]{36}$/);
    const worked = ok('sh', ['-c', next[1]!]);
    assert.match(worked, new RegExp(`"jobId":"${dispatched}".*"msg":"welcome email sent"`));
    assert.match(worked, /"outcome":"done"/);
    assert.match(worked, /the queue is empty \(exit 0\)/);
  });

  it('`npx queue init` again refuses to overwrite, and says so in one line', () => {
    const result = inProject('npx', ['queue', 'init']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: app\/jobs\/SendWelcomeEmail\.ts, config\/queue\.ts, config\/schedule\.ts, \.env\.example already exist in .*; nothing was written/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('strict tsc reports nothing on code using the public API, under NodeNext and under bundler resolution', () => {
    write('src/signup.ts', [
      "import { createWorker, dispatch, Job, Queue, type JobContext } from 'queuework';",
      "import SendWelcomeEmail from '../app/jobs/SendWelcomeEmail.js';",
      '',
      'export class Resize extends Job {',
      "  static override queue = 'images';",
      "  path = '';",
      '  width = 0;',
      '  async handle(ctx: JobContext): Promise<void> {',
      "    ctx.log.info({ path: this.path, width: this.width }, 'resized');",
      '  }',
      '}',
      '',
      'export async function signUp(): Promise<string[]> {',
      "  const ids = [await SendWelcomeEmail.dispatch({ userId: 1, email: 'ada@example.com' }, { delay: 5 })];",
      "  ids.push(await dispatch(Object.assign(new Resize(), { path: 'a.png', width: 100 }), { queue: 'images' }));",
      '  ids.push(...(await Queue.bulk([new Resize(), new Resize()])));',
      '  return ids;',
      '}',
      '',
      'export async function inProcess(): Promise<void> {',
      "  const worker = createWorker({ queues: ['images'], concurrency: 2, handleSignals: false });",
      "  worker.on('completed', (run) => console.log(run.id));",
      '  await worker.close();',
      '}',
      '',
      'export function faked(): void {',
      '  const fake = Queue.fake();',
      '  fake.assertDispatched(Resize, (job) => job.width === 100);',
      '  Queue.restore();',
      '}',
      '',
    ].join('\n'));
    write('tsconfig.json', tsconfig('NodeNext', 'NodeNext'));
    ok('npx', ['tsc', '-p', '.']);
    write('tsconfig.json', tsconfig('ESNext', 'Bundler'));
    ok('npx', ['tsc', '-p', '.']);
  });

  it('strict tsc still catches a field name the job does not have in Job.dispatch({...})', () => {
    write('src/typo.ts', "import SendWelcomeEmail from '../app/jobs/SendWelcomeEmail.js';\nawait SendWelcomeEmail.dispatch({ userId: 1, emial: 'ada@example.com' });\n");
    try {
      for (const [module, resolution] of [['NodeNext', 'NodeNext'], ['ESNext', 'Bundler']] as const) {
        write('tsconfig.json', tsconfig(module, resolution));
        const result = inProject('npx', ['tsc', '-p', '.']);
        assert.notEqual(result.code, 0);
        assert.match(result.stdout, /src\/typo\.ts\(2,\d+\): error TS2561: .*'emial' does not exist in type 'JobData<SendWelcomeEmail>'/);
        assert.equal(result.stdout.trim().split('\n').length, 1, result.stdout);
      }
    } finally {
      rmSync(path.join(project, 'src/typo.ts'));
    }
  });

  it('Queue.fake() in the application tests, under node:test, Vitest and Jest, with no backend', () => {
    const body = (expectThrows: string) => [
      '  afterEach(() => Queue.restore());',
      "  it('dispatches the welcome email', async () => {",
      '    const fake = Queue.fake();',
      "    await SendWelcomeEmail.dispatch({ userId: 7, email: 'ada@example.com' });",
      '    fake.assertDispatched(SendWelcomeEmail, (job) => job.userId === 7 && job.signedUpAt instanceof Date);',
      "    fake.assertDispatchedOn(SendWelcomeEmail, 'default');",
      `    ${expectThrows}`,
      '    const runs = await fake.runAll();',
      '    if (runs.length !== 1 || !runs[0].ok) throw new Error(`the job did not run: ${JSON.stringify(runs)}`);',
      '  });',
      '});',
      '',
    ].join('\n');
    write('tests/signup.test.ts', [
      "import assert from 'node:assert/strict';",
      "import { afterEach, describe, it } from 'node:test';",
      "import { Queue } from 'queuework';",
      "import SendWelcomeEmail from '../app/jobs/SendWelcomeEmail.ts';",
      "describe('signing up', () => {",
      body('assert.throws(() => fake.assertNotDispatched(SendWelcomeEmail), /not to be dispatched/);'),
    ].join('\n'));
    assert.match(ok('node', ['--import', 'tsx', '--test', '--test-reporter=tap', 'tests/signup.test.ts']), /# pass 1\n# fail 0/);

    write('tests/signup.vitest.test.ts', [
      "import { afterEach, describe, expect, it } from 'vitest';",
      "import { Queue } from 'queuework';",
      "import SendWelcomeEmail from '../app/jobs/SendWelcomeEmail.ts';",
      "describe('signing up', () => {",
      body('expect(() => fake.assertNotDispatched(SendWelcomeEmail)).toThrow(/not to be dispatched/);'),
    ].join('\n'));
    assert.match(ok('npx', ['vitest', 'run', 'tests/signup.vitest.test.ts'], { NO_COLOR: '1' }), /Tests\s+1 passed/);

    // Jest runs ES modules with --experimental-vm-modules and does not compile TypeScript by itself:
    // the job is plain JavaScript here.
    write('tests/signup.jest.mjs', [
      "import { afterEach, describe, expect, it } from '@jest/globals';",
      "import { Job, Queue } from 'queuework';",
      'class SendWelcomeEmail extends Job {',
      '  userId = 0;',
      "  email = '';",
      '  signedUpAt = new Date();',
      '  handle() {}',
      '}',
      "describe('signing up', () => {",
      body('expect(() => fake.assertNotDispatched(SendWelcomeEmail)).toThrow(/not to be dispatched/);'),
    ].join('\n'));
    const jest = inProject('npx', ['jest', '--ci', '--testMatch', '**/tests/*.jest.mjs'], { NODE_OPTIONS: '--experimental-vm-modules --no-warnings' });
    assert.equal(jest.code, 0, jest.stdout + jest.stderr);
    assert.match(jest.stderr, /Tests:\s+1 passed, 1 total/);
  });

  it('require() of the package works where Node allows it', () => {
    write('check.cjs', "const { Job, dispatch, Queue } = require('queuework');\nconsole.log(typeof Job, typeof dispatch, typeof Queue.fake);\n");
    assert.equal(ok('node', ['check.cjs']).trim(), 'function function function');
  });

  it('a connection whose driver package is not installed fails in one line that names it', () => {
    for (const [extra, pkg] of [[{ QUEUE_CONNECTION: 'redis' }, 'ioredis'], [{ DB_CONNECTION: 'postgres', DB_NAME: 'shop' }, 'pg'], [{ DB_CONNECTION: 'mysql', DB_NAME: 'shop' }, 'mysql2']] as const) {
      const result = inProject('npx', ['queue', 'work', '--once'], extra);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.equal(result.stderr, `error: connection '${'QUEUE_CONNECTION' in extra ? 'redis' : 'database'}' needs the ${pkg} package, which is not installed; run: npm install ${pkg}\n`);
    }
  });
});
