/**
 * dispatch(), Queue and Job.dispatch() as application code uses them: one shared manager built from
 * the project at QUEUE_ROOT, writing to a real SQLite file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureProject } from '../helpers/cli.ts';
import { queueError } from '../helpers/errors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'queue-dispatch-'));
process.env.QUEUE_ROOT = fixtureProject;
process.env.DB_DATABASE = path.join(dir, 'queue.sqlite');

const { dispatch, Queue, Job } = await import('../../src/index.ts');
const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
const { default: Slow } = await import('../fixtures/project/app/jobs/Slow.ts');
const { default: Digest } = await import('../fixtures/project/app/jobs/Digest.ts');

describe('dispatch() and Queue', () => {
  before(() => Queue.size());
  after(async () => {
    await Queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dispatch() stores a job and returns its UUID (version 7: it starts with the time)', async () => {
    const job = new Record();
    job.label = 'one';
    const before = Date.now();
    const id = await dispatch(job);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ms = Number.parseInt(id.replace('-', '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= Date.now(), 'its first 48 bits are the time of dispatch');
    assert.equal(await Queue.size('default'), 1);
  });

  it('Queue.push, Queue.later and the Job.dispatch() sugar honour queue and delay', async () => {
    await Queue.push(new Record(), { queue: 'pushed' });
    await Queue.later(60, new Record(), { queue: 'later' });
    await Queue.later(new Date(Date.now() + 60_000), new Record(), { queue: 'later' });
    const id = await Slow.dispatch({ ms: 5 }, { queue: 'sugar' });
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(await Queue.size('pushed'), 1);
    assert.equal(await Queue.size('later'), 2);
    assert.equal(await Queue.size('sugar'), 1);
  });

  it('Queue.bulk stores every job or none', async () => {
    const ids = await Queue.bulk(Array.from({ length: 25 }, () => new Record()), { queue: 'bulk' });
    assert.equal(new Set(ids).size, 25);
    assert.equal(await Queue.size('bulk'), 25);
    const bad = new Record();
    (bad as unknown as { callback: () => void }).callback = () => {};
    await assert.rejects(Queue.bulk([new Record(), bad], { queue: 'bulk2' }), queueError('JOB_NOT_SERIALIZABLE', "field 'callback'"));
    assert.equal(await Queue.size('bulk2'), 0);
  });

  it('refuses bad options and unregistered classes with clear errors', async () => {
    class Stray extends Job {
      handle(): void {}
    }
    await assert.rejects(dispatch(new Stray()), queueError('JOB_NOT_REGISTERED', 'Stray is not a registered job'));
    await assert.rejects(dispatch(new Record(), { delay: -1 }), queueError('INVALID_ARGUMENT', 'delay'));
    await assert.rejects(dispatch(new Record(), { queue: '' }), queueError('INVALID_ARGUMENT', 'queue name'));
    await assert.rejects(dispatch(new Record(), { connection: 'nope' }), queueError('CONNECTION_UNKNOWN', "'nope'"));
  });

  it('refuses queue names no worker could take and delays past ten years, on every path', async () => {
    for (const queue of ['a,b', ' a', 'a ', 'tab\there']) {
      await assert.rejects(dispatch(new Record(), { queue }), queueError('INVALID_ARGUMENT', `queue name ${JSON.stringify(queue)}`));
      await assert.rejects(Queue.bulk([new Record()], { queue }), queueError('INVALID_ARGUMENT', 'queue name'));
    }
    for (const delay of [1e17, 1e300, Infinity, Number.NaN, new Date(Date.now() + 11 * 365 * 24 * 3600 * 1000), new Date('nope')]) {
      await assert.rejects(dispatch(new Record(), { delay }), queueError('INVALID_ARGUMENT', 'delay'));
    }
    assert.ok(await dispatch(new Record(), { delay: 9 * 365 * 24 * 3600, queue: 'far' }), 'nine years is fine');
  });

  it('a unique job dispatched twice is stored once: dispatch returns the holder, returnInfo says it was a duplicate', async () => {
    const first = await Queue.push(Object.assign(new Digest(), { list: 'weekly' }), { queue: 'digests', returnInfo: true });
    assert.deepEqual(first, { id: first.id, duplicate: false });
    assert.equal(await dispatch(Object.assign(new Digest(), { list: 'weekly' }), { queue: 'digests' }), first.id, 'the plain id is the holder');
    assert.deepEqual(await Queue.push(Object.assign(new Digest(), { list: 'weekly' }), { queue: 'digests', returnInfo: true }), { id: first.id, duplicate: true });
    const other = await Digest.dispatch({ list: 'daily' }, { queue: 'digests' });
    assert.notEqual(other, first.id, 'another key is another job');
    const bulk = await Queue.bulk([Object.assign(new Digest(), { list: 'monthly' }), Object.assign(new Digest(), { list: 'monthly' }), new Record()], { queue: 'digests', returnInfo: true });
    assert.deepEqual(bulk.map((d) => d.duplicate), [false, true, false]);
    assert.equal(bulk[1]!.id, bulk[0]!.id);
    assert.equal(await Queue.size('digests'), 4);
  });

  it('priority comes from the class or the dispatch, and is shown in the record; bad values are refused', async () => {
    const id = await dispatch(new Record(), { queue: 'ranked', priority: 7 });
    assert.equal((await Queue.find(id))?.priority, 7);
    assert.equal((await Queue.find(await dispatch(new Record(), { queue: 'ranked' })))?.priority, 0);
    for (const priority of [1.5, 1_000_001, Number.NaN, '3' as unknown as number]) {
      await assert.rejects(dispatch(new Record(), { priority }), queueError('INVALID_ARGUMENT', 'dispatch option priority must be a whole number from -1000000 to 1000000'));
    }
    class BadRank extends Record {
      static priority = 0.5;
    }
    Queue.fake();
    try {
      await assert.rejects(dispatch(new BadRank()), queueError('JOB_NOT_SERIALIZABLE', 'BadRank: priority must be a whole number'));
    } finally {
      Queue.restore();
    }
  });

  it('the sync connection runs the job inside dispatch()', async () => {
    const before = await Queue.size('default');
    await dispatch(new Record(), { connection: 'sync' });
    assert.equal(await Queue.size('default'), before, 'nothing stored');
  });
});
