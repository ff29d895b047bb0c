import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { discoverJobs } from '../../src/jobs/registry.ts';
import { queueError } from '../helpers/errors.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const project = path.resolve(here, '../fixtures/project');
const badExport = path.resolve(here, '../fixtures/bad-export');
const indexUrl = new URL('../../src/index.ts', import.meta.url).href;

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway project whose app/jobs holds the given files (name -> source). */
function tempProject(files: Record<string, string>): { root: string; dir: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'queue-registry-'));
  tempDirs.push(root);
  const dir = path.join(root, 'app', 'jobs');
  mkdirSync(dir, { recursive: true });
  // Like a real project: ESM, so the job files share this process's one copy of Job.
  writeFileSync(path.join(root, 'package.json'), '{"type": "module"}\n');
  for (const [name, source] of Object.entries(files)) writeFileSync(path.join(dir, name), source);
  return { root, dir };
}

function jobSource(className: string, jobName?: string): string {
  return [
    `import { Job } from ${JSON.stringify(indexUrl)};`,
    `export default class ${className} extends Job {`,
    jobName === undefined ? '' : `  static jobName = ${JSON.stringify(jobName)};`,
    '  handle(): void {}',
    '}',
    '',
  ].join('\n');
}

const rejectsWith = queueError;

describe('discoverJobs on the fixture project', () => {
  it('registers every job by path, or by its static jobName', async () => {
    const registry = await discoverJobs(project, path.join(project, 'app/jobs'));
    const names = registry.all().map((job) => job.name).sort();
    assert.deepEqual(names, ['AlwaysFails', 'Digest', 'Fleeting', 'Hang', 'Noop', 'Record', 'Report', 'Secret', 'Sleepy', 'Slow', 'Soak', 'Spin', 'Tracked', 'custom-name', 'misbehaves/CallsExit', 'misbehaves/RejectsUnawaited', 'misbehaves/ThrowsInTimer', 'misbehaves/ThrowsUnprintable']);
    const named = registry.require('custom-name');
    assert.equal(named.jobClass.name, 'Named');
    assert.equal(named.file, path.join('app', 'jobs', 'nested', 'Named.ts'));
    assert.equal(registry.nameOf(registry.require('Record').jobClass), 'Record');
    assert.equal(registry.get('nested/Named'), undefined);
  });

  it('warns about README.md, and lists the _record.ts helper it skipped on purpose apart', async () => {
    const registry = await discoverJobs(project, path.join(project, 'app/jobs'));
    assert.deepEqual(registry.warnings, ['skipped app/jobs/README.md: not a job file (.ts, .mts, .js or .mjs)']);
    assert.deepEqual(registry.helpers, ["skipped app/jobs/_record.ts: files starting with '_' hold helpers, not jobs"]);
  });

  it('require() of an unknown job lists the known ones', async () => {
    const registry = await discoverJobs(project, path.join(project, 'app/jobs'));
    assert.throws(() => registry.require('Nope'), rejectsWith('JOB_NOT_REGISTERED', "'Nope'", 'AlwaysFails', 'Record', 'Slow', 'custom-name'));
  });
});

describe('discoverJobs refusals', () => {
  it('rejects a file whose default export is not a Job class, naming the file', async () => {
    await assert.rejects(discoverJobs(badExport, path.join(badExport, 'app/jobs')), rejectsWith('JOB_FILE_INVALID', 'NotAJob.ts'));
  });

  it('rejects two job files with the same static jobName, naming both files', async () => {
    const { root, dir } = tempProject({ 'First.ts': jobSource('First', 'same'), 'Second.ts': jobSource('Second', 'same') });
    await assert.rejects(discoverJobs(root, dir), rejectsWith('JOB_NAME_DUPLICATE', "'same'", 'First.ts', 'Second.ts'));
  });

  it('rejects one class exported from two files', async () => {
    const { root, dir } = tempProject({ 'Alpha.ts': jobSource('Alpha'), 'Beta.ts': "export { default } from './Alpha.ts';\n" });
    await assert.rejects(discoverJobs(root, dir), rejectsWith('JOB_NAME_DUPLICATE', 'Alpha.ts', 'Beta.ts'));
  });

  it('refuses a job name the envelope could not carry, from a file name or a static jobName', async () => {
    const spaced = tempProject({ 'Send Email.ts': jobSource('SendEmail') });
    await assert.rejects(discoverJobs(spaced.root, spaced.dir), rejectsWith('JOB_FILE_INVALID', "'Send Email'", 'not valid'));
    const colon = tempProject({ 'Mail.ts': jobSource('Mail', 'mail:send') });
    await assert.rejects(discoverJobs(colon.root, colon.dir), rejectsWith('JOB_FILE_INVALID', "'mail:send'"));
  });

  it('rejects an empty static jobName', async () => {
    const { root, dir } = tempProject({ 'Blank.ts': jobSource('Blank', '  ') });
    await assert.rejects(discoverJobs(root, dir), rejectsWith('JOB_FILE_INVALID', 'Blank.ts', 'jobName'));
  });

  it('rejects a job file that throws while loading, with the reason', async () => {
    const { root, dir } = tempProject({ 'Broken.ts': "throw new Error('kaboom at import');\n" });
    await assert.rejects(discoverJobs(root, dir), rejectsWith('JOB_FILE_INVALID', 'Broken.ts', 'kaboom at import'));
  });
});

describe('discoverJobs edge cases', () => {
  it('a missing jobs folder gives an empty registry and a warning', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'queue-registry-'));
    tempDirs.push(root);
    const registry = await discoverJobs(root, path.join(root, 'app', 'jobs'));
    assert.deepEqual(registry.all(), []);
    assert.equal(registry.warnings.length, 1);
    assert.match(registry.warnings[0] ?? '', /app.jobs does not exist/);
    assert.throws(() => registry.require('Anything'), rejectsWith('JOB_NOT_REGISTERED', 'none'));
  });

  it('skips test files and _helper folders, and names nested jobs by their path', async () => {
    const { root, dir } = tempProject({ 'Plain.test.ts': 'throw new Error("must not be imported");\n' });
    mkdirSync(path.join(dir, '_lib'));
    writeFileSync(path.join(dir, '_lib', 'Helper.ts'), 'throw new Error("must not be imported");\n');
    mkdirSync(path.join(dir, 'billing'));
    writeFileSync(path.join(dir, 'billing', 'ChargeCard.ts'), jobSource('ChargeCard'));
    const registry = await discoverJobs(root, dir);
    assert.deepEqual(registry.all().map((job) => job.name), ['billing/ChargeCard']);
    assert.ok(registry.warnings.some((w) => w.includes('Plain.test.ts')));
    assert.ok(registry.helpers.some((w) => w.includes('_lib')));
  });
});
