import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '../../src/config/define.ts';
import { QueueError } from '../../src/errors.ts';
import { Job } from '../../src/index.ts';
import { QueueManager } from '../../src/queue/manager.ts';
// The same files the registry imports, so the classes are the registered ones.
import AlwaysFails from '../fixtures/project/app/jobs/AlwaysFails.ts';
import Record from '../fixtures/project/app/jobs/Record.ts';
import { queueError } from '../helpers/errors.ts';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/project');
const tempDir = mkdtempSync(path.join(os.tmpdir(), 'queue-sync-'));
const savedRecordFile = process.env.RECORD_FILE;
const manager = new QueueManager(defineConfig({ default: 'sync', connections: { sync: { driver: 'sync' } }, jobs: 'app/jobs' }), project);

let recordFile = '';
let runs = 0;

beforeEach(() => {
  runs += 1;
  recordFile = path.join(tempDir, `record-${runs}.log`);
  process.env.RECORD_FILE = recordFile;
});

after(async () => {
  await manager.close();
  if (savedRecordFile === undefined) delete process.env.RECORD_FILE;
  else process.env.RECORD_FILE = savedRecordFile;
  rmSync(tempDir, { recursive: true, force: true });
});

function recorded(): string[] {
  return existsSync(recordFile) ? readFileSync(recordFile, 'utf8').split('\n').filter(Boolean) : [];
}

const rejectsWith = queueError;

describe('the sync connection', () => {
  it('runs a job inline, once, before push() resolves, with its data restored', async () => {
    const job = new Record();
    job.label = 'hello';
    const ids = (await manager.push([job])).map((pushed) => pushed.id);
    assert.equal(ids.length, 1);
    assert.match(ids[0] ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(recorded(), [`${ids[0]} 1 hello`]);
  });

  it('runs several jobs in order and returns their ids in the same order', async () => {
    const first = Object.assign(new Record(), { label: 'first' });
    const second = Object.assign(new Record(), { label: 'second' });
    const ids = (await manager.push([first, second])).map((pushed) => pushed.id);
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1]);
    assert.deepEqual(recorded(), [`${ids[0]} 1 first`, `${ids[1]} 1 second`]);
  });

  it('tries a failing job maxTries times, calls failed() once, then rejects with JOB_FAILED', async () => {
    await assert.rejects(manager.push([new AlwaysFails()]), (error: unknown) => {
      rejectsWith('JOB_FAILED', 'AlwaysFails', 'after 2 attempt(s)', 'boom')(error);
      assert.ok((error as QueueError).cause instanceof Error);
      return true;
    });
    const lines = recorded();
    assert.equal(lines.length, 3, lines.join('\n'));
    const [first, second, hook] = lines;
    const id = first?.split(' ')[0] ?? '';
    assert.equal(first, `${id} 1 attempt`);
    assert.equal(second, `${id} 2 attempt`);
    assert.equal(hook, 'failed-hook AlwaysFails: boom');
    assert.equal(lines.filter((line) => line.startsWith('failed-hook')).length, 1);
  });

  it('refuses an instance of a class that is not in app/jobs', async () => {
    class NotInAppJobs extends Job {
      handle(): void {}
    }
    await assert.rejects(manager.push([new NotInAppJobs()]), rejectsWith('JOB_NOT_REGISTERED', 'NotInAppJobs', 'app/jobs'));
  });

  it('refuses a job with a function-valued field, naming the field, and runs nothing', async () => {
    const job = Object.assign(new Record(), { onDone: () => 'called back' });
    await assert.rejects(manager.push([job]), rejectsWith('JOB_NOT_SERIALIZABLE', 'Record', "'onDone'", 'function'));
    assert.deepEqual(recorded(), []);
  });

  it('refuses the whole batch before running any job when one cannot be serialized', async () => {
    const good = Object.assign(new Record(), { label: 'good' });
    const bad = Object.assign(new Record(), { when: new Date('nope') });
    await assert.rejects(manager.push([good, bad]), rejectsWith('JOB_NOT_SERIALIZABLE', "'when'"));
    assert.deepEqual(recorded(), []);
  });
});
