/** createWorker(): a worker inside the application's process, on the project's config, with its events. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureProject } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'queue-create-worker-'));
process.env.QUEUE_ROOT = fixtureProject;
process.env.DB_DATABASE = path.join(dir, 'queue.sqlite');
process.env.RECORD_FILE = path.join(dir, 'record.log');

const { createWorker, Queue } = await import('../../src/index.ts');
const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
const { default: AlwaysFails } = await import('../fixtures/project/app/jobs/AlwaysFails.ts');

describe('createWorker()', () => {
  after(async () => {
    await Queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the jobs of its queues in this process and tells what became of each', async () => {
    const ok = await Queue.bulk([new Record(), new Record()], { queue: 'inproc' });
    const bad = await Queue.push(new AlwaysFails(), { queue: 'inproc' });
    const worker = createWorker({ queues: ['inproc'], concurrency: 2, stopWhenEmpty: true, sleep: 0.05 });
    const seen: string[] = [];
    worker.on('started', ({ id, attempt }) => seen.push(`started ${id} ${attempt}`));
    worker.on('completed', ({ id, job, ms }) => seen.push(`completed ${id} ${job} ${typeof ms}`));
    worker.on('retrying', ({ id, error, delay }) => seen.push(`retrying ${id} ${error.message} ${delay}`));
    worker.on('failed', ({ id, error }) => seen.push(`failed ${id} ${error.message}`));
    const reason = await worker.run();
    assert.deepEqual([reason.code, reason.exitCode], ['empty', 0]);
    assert.equal(worker.jobsProcessed, 4, 'every try counts (as --max-jobs does)');
    for (const id of ok) assert.ok(seen.includes(`completed ${id} Record number`), `completed ${id}: ${seen.join('; ')}`);
    assert.ok(seen.includes(`retrying ${bad} AlwaysFails: boom 0`));
    assert.ok(seen.includes(`failed ${bad} AlwaysFails: boom`));
    assert.equal(seen.filter((line) => line.startsWith('started')).length, 4, 'two jobs, and two tries of the failing one');
    await worker.close();
  });

  it('with prefetch, runs every job once and tells each; a prefetch that is no whole number from 0 to 10000 is refused', async () => {
    const ids = await Queue.bulk(Array.from({ length: 300 }, () => new Record()), { queue: 'prefetched' });
    const worker = createWorker({ queues: ['prefetched'], prefetch: 100, stopWhenEmpty: true, sleep: 0.05 });
    const completed: string[] = [];
    worker.on('completed', ({ id, attempt }) => completed.push(`${id} ${attempt}`));
    assert.equal((await worker.run()).code, 'empty');
    assert.deepEqual(completed.sort(), ids.map((id) => `${id} 1`).sort(), 'each job completed once, on its first try');
    await worker.close();
    for (const prefetch of [-1, 2.5, 10_001]) {
      const bad = createWorker({ queues: ['prefetched'], prefetch });
      await assert.rejects(bad.run(), { code: 'INVALID_ARGUMENT', message: `createWorker: prefetch must be a whole number from 0 to 10000, got ${prefetch}` });
      await bad.close();
    }
  });

  it('stop() ends a worker that waits for jobs; run() resolves once it has', async () => {
    const worker = createWorker({ queues: ['idle'], sleep: 0.05 });
    const running = worker.run();
    await new Promise((resolve) => setTimeout(resolve, 200));
    worker.stop();
    assert.equal((await running).code, 'signal');
    await worker.close();
  });
});
