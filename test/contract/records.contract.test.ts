/**
 * Job records (SPEC 11): every job can be found by its id in whatever state it is, a done job keeps
 * a `completed` record with its result for as long as it is kept, and pruning removes finished
 * records only. The same cases against every backend.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { canNotifyFinished, type Completion, type Driver, type JobRecord, type Keeping, type Reservation, type ReserveOptions } from '../../src/contract/driver.ts';
import { backends, suiteDrivers, type Backend } from '../helpers/backends.ts';
import { idOf, storedJob as job } from '../helpers/stored.ts';

const LEASE: ReserveOptions = { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };
const HOUR = 3_600_000;

const kept = (result: string | null = null, keepMs = HOUR): Completion => ({ result, keepMs, maxPerQueue: 1_000 });
const KEEPING: Keeping = { keepMs: HOUR, maxPerQueue: 1_000 };

async function reserveOne(driver: Driver, queues = ['default']): Promise<Reservation> {
  const [reservation] = await driver.reserve(queues, LEASE);
  assert.ok(reservation, `a job is ready on ${queues.join(', ')}`);
  return reservation;
}

/** Reserves and acks, with a completion, the next job of `queue`. */
async function complete(driver: Driver, queue: string, completion: Completion): Promise<string> {
  const r = await reserveOne(driver, [queue]);
  assert.equal(await driver.ack(r, completion), true);
  return idOf(r);
}

async function found(driver: Driver, id: string): Promise<JobRecord> {
  const record = await driver.records.find(id);
  assert.ok(record, `job ${id} has a record`);
  return record;
}

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`job records: ${backend.name}`, async () => {
    const { skip, fresh } = await suiteDrivers(backend);

    it('find follows a job from delayed to ready, reserved and completed, with its result', { skip }, async () => {
      const d = await fresh();
      const pushed = job('default', { delayMs: 300 });
      const before = Date.now();
      await d.push([pushed]);

      const delayed = await found(d, pushed.id);
      assert.equal(delayed.state, 'delayed');
      assert.equal(delayed.queue, 'default');
      assert.equal(delayed.connection, d.connection);
      assert.equal(delayed.payload, pushed.payload);
      assert.equal(delayed.attempts, 0);
      assert.ok(delayed.availableAt! >= before + 250, `available in about 300 ms: ${delayed.availableAt! - before}`);
      assert.equal(delayed.finishedAt, null);

      await sleep(350);
      assert.equal((await found(d, pushed.id)).state, 'ready', 'a delayed job past its time is ready');

      const r = await reserveOne(d);
      const reserved = await found(d, pushed.id);
      assert.equal(reserved.state, 'reserved');
      assert.equal(reserved.attempts, 1);
      assert.ok(reserved.startedAt! >= before && reserved.startedAt! <= Date.now() + 1_000, 'started now');
      assert.ok(reserved.availableAt! > Date.now() + 60_000, 'its lease expiry');

      assert.equal(await d.ack(r, kept('{"total":42}')), true);
      const completed = await found(d, pushed.id);
      assert.equal(completed.state, 'completed');
      assert.equal(completed.result, '{"total":42}');
      assert.equal(completed.attempts, 1);
      assert.equal(completed.payload, pushed.payload);
      assert.equal(completed.startedAt, reserved.startedAt);
      assert.ok(completed.finishedAt! >= completed.startedAt!);
      assert.equal(completed.availableAt, null);
      assert.equal(completed.error, null);
      assert.equal(await d.size('default'), 0, 'a completed job no longer waits');
      assert.equal(await d.records.find('no-such-id'), undefined);
    });

    it('an ack without a completion leaves no record, as keep: false asks', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      assert.equal(await d.ack(await reserveOne(d)), true);
      assert.equal(await d.records.find(pushed.id), undefined);
      assert.deepEqual((await d.records.list({ state: 'completed' })).records, []);
    });

    it('a failed job is found in state failed, with its error', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      const r = await reserveOne(d);
      assert.equal(await d.fail(r, { id: pushed.id, job: 'Record', payload: r.payload, error: 'Error: boom\n    at handle' }), true);
      const failed = await found(d, pushed.id);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error, 'Error: boom\n    at handle');
      assert.ok(failed.finishedAt! > 0);
      assert.deepEqual((await d.records.list({ state: 'failed' })).records.map((x) => x.id), [pushed.id]);
    });

    it('an ack whose lease was taken over keeps no record; an ack sent twice keeps one', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      const r = await reserveOne(d);
      assert.equal(await d.ack(r, kept('"first"')), true);
      assert.equal(await d.ack(r, kept('"first"')), true, 'a re-sent ack says done');
      assert.equal((await d.records.list({ state: 'completed' })).records.length, 1);

      const other = job();
      await d.push([other]);
      const stale = await reserveOne(d);
      assert.equal(await d.release(stale, 0), true);
      const owner = await reserveOne(d);
      assert.equal(await d.ack(stale, kept('"stale"')), false, 'the stale holder changes nothing');
      assert.equal((await found(d, other.id)).state, 'reserved');
      assert.equal(await d.ack(owner, kept('"owner"')), true);
      assert.equal((await found(d, other.id)).result, '"owner"');
    });

    it('list pages through one state newest first, per queue', { skip }, async () => {
      const d = await fresh();
      const jobs = Array.from({ length: 5 }, (_, i) => job('pages', { label: String(i) }));
      for (const j of jobs) await d.push([j]);
      const done: string[] = [];
      for (let i = 0; i < 5; i++) {
        done.push(await complete(d, 'pages', kept(String(i))));
        await sleep(5);
      }
      await d.push([job('elsewhere')]);
      await complete(d, 'elsewhere', kept());

      const newest = [...done].reverse();
      const first = await d.records.list({ state: 'completed', queue: 'pages', limit: 2 });
      assert.deepEqual(first.records.map((r) => r.id), newest.slice(0, 2));
      assert.ok(first.cursor, 'more to come');
      const second = await d.records.list({ state: 'completed', queue: 'pages', limit: 2, cursor: first.cursor });
      assert.deepEqual(second.records.map((r) => r.id), newest.slice(2, 4));
      const third = await d.records.list({ state: 'completed', queue: 'pages', limit: 2, cursor: second.cursor });
      assert.deepEqual(third.records.map((r) => r.id), newest.slice(4));
      assert.equal(third.cursor, undefined, 'the last page says so');
      assert.equal((await d.records.list({ state: 'completed' })).records.length, 6, 'every queue without one named');

      const waiting = [job('states'), job('states'), job('states', { delayMs: HOUR })];
      for (const j of waiting) await d.push([j]);
      const r = await reserveOne(d, ['states']);
      assert.deepEqual((await d.records.list({ state: 'reserved', queue: 'states' })).records.map((x) => x.id), [idOf(r)]);
      assert.deepEqual((await d.records.list({ state: 'ready', queue: 'states' })).records.map((x) => x.id), [waiting[1]!.id]);
      assert.deepEqual((await d.records.list({ state: 'delayed', queue: 'states' })).records.map((x) => x.id), [waiting[2]!.id]);
      assert.deepEqual((await d.records.list({ state: 'cancelled' })).records, []);
    });

    it('prune removes records past their keep time and beyond the count per queue, never an unfinished job or a failure', { skip }, async () => {
      const d = await fresh();
      const pushed = Array.from({ length: 4 }, () => job('prune'));
      const waiting = [job('prune'), job('prune', { delayMs: HOUR })];
      for (const j of pushed) await d.push([j]);
      const short = await complete(d, 'prune', kept(null, 50));
      const long = [];
      for (let i = 0; i < 2; i++) {
        long.push(await complete(d, 'prune', kept()));
        await sleep(5);
      }
      const failing = await reserveOne(d, ['prune']);
      assert.equal(await d.fail(failing, { id: idOf(failing), job: 'Record', payload: failing.payload, error: 'boom' }), true);
      await d.push(waiting);
      const running = await reserveOne(d, ['prune']);
      await sleep(100);

      assert.equal(await d.records.prune({ maxPerQueue: 1_000 }), 1, 'the record past its keep time');
      assert.equal(await d.records.find(short), undefined);
      assert.equal(await d.records.prune({ maxPerQueue: 1 }), 1, 'the older of the two kept an hour');
      assert.equal(await d.records.find(long[0]!), undefined);
      assert.equal((await found(d, long[1]!)).state, 'completed', 'the newest stays');
      assert.equal((await found(d, idOf(failing))).state, 'failed', 'failures stay until pruned by hand');
      assert.equal((await found(d, idOf(running))).state, 'reserved');
      assert.equal((await found(d, waiting[1]!.id)).state, 'delayed');
      assert.equal(await d.records.prune({ maxPerQueue: 0 }), 1, 'a count of 0 keeps no finished record');
      assert.equal(await d.size('prune'), 2, 'unfinished jobs are all there');
    });
    it('cancel of a ready or a delayed job is at once and for good: it is never handed out', { skip }, async () => {
      const d = await fresh();
      const [ready, delayed, other] = [job('cancel'), job('cancel', { delayMs: 200 }), job('cancel')];
      await d.push([ready, delayed, other]);
      assert.equal(await d.records.cancel(ready.id, KEEPING), 'cancelled');
      assert.equal(await d.records.cancel(delayed.id, KEEPING), 'cancelled');
      assert.equal(await d.records.cancel(ready.id, KEEPING), 'finished', 'a second cancel changes nothing');
      assert.equal(await d.records.cancel('no-such-id', KEEPING), 'unknown');
      const cancelled = await found(d, ready.id);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(cancelled.payload, ready.payload);
      assert.ok(cancelled.finishedAt! > 0);
      await sleep(250);
      const handed = await d.reserve(['cancel'], { ...LEASE, count: 10 });
      assert.deepEqual(handed.map(idOf), [other.id], 'only the job not cancelled');
      assert.equal(await d.size('cancel'), 1);
      assert.deepEqual((await d.records.list({ state: 'cancelled', queue: 'cancel' })).records.map((r) => r.id).sort(), [ready.id, delayed.id].sort());
      assert.equal(await d.ack(handed[0]!, kept()), true);
      assert.equal(await d.records.cancel(other.id, KEEPING), 'finished', 'a completed job cannot be cancelled');
      assert.equal((await found(d, other.id)).state, 'completed');
      const stats = (await d.stats()).find((q) => q.queue === 'cancel')!;
      assert.equal(stats.cancelled, 2);
      assert.equal(stats.completed, 1);
    });

    it('cancel of a reserved job is requested; its worker ends it cancelled, and a stale ack changes nothing', { skip }, async () => {
      const d = await fresh();
      const pushed = job('running');
      await d.push([pushed]);
      const r = await reserveOne(d, ['running']);
      assert.equal(await d.records.cancel(pushed.id, KEEPING), 'requested');
      assert.deepEqual((await d.signals()).cancelRequested, [pushed.id], 'every worker sees the request');
      assert.equal((await found(d, pushed.id)).state, 'reserved', 'it runs until its worker stops it');
      assert.equal(await d.cancelRunning(r, KEEPING), true);
      assert.equal(await d.cancelRunning(r, KEEPING), true, 'sent twice: done once');
      const record = await found(d, pushed.id);
      assert.equal(record.state, 'cancelled');
      assert.equal(record.attempts, 1);
      assert.deepEqual((await d.signals()).cancelRequested, [], 'the request is cleared with it');
      await d.ack(r, kept('"late"'));
      assert.equal((await found(d, pushed.id)).state, 'cancelled', 'a late ack keeps no completed record');
      assert.equal(await d.size('running'), 0);

      const stale = job('running');
      await d.push([stale]);
      const first = await reserveOne(d, ['running']);
      assert.equal(await d.release(first, 0), true);
      const second = await reserveOne(d, ['running']);
      assert.equal(await d.cancelRunning(first, KEEPING), false, 'a holder whose lease was taken over cannot');
      assert.equal((await found(d, stale.id)).state, 'reserved');
      assert.equal(await d.ack(second), true);
    });

    it('progress is stored while the job runs and kept in its record', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      const r = await reserveOne(d);
      assert.equal((await found(d, pushed.id)).progress, null);
      assert.equal(await d.progress(r, '40'), true);
      assert.equal(await d.progress(r, '{"done":3,"of":5}'), true);
      assert.equal((await found(d, pushed.id)).progress, '{"done":3,"of":5}', 'find sees it at once');
      assert.equal(await d.ack(r, kept('"ok"')), true);
      const record = await found(d, pushed.id);
      assert.equal(record.progress, '{"done":3,"of":5}');
      assert.equal(await d.progress(r, '100'), false, 'a finished job takes no progress');
    });

    it('clean deletes one finished state, by queue and age; never an unfinished job', { skip }, async () => {
      const d = await fresh();
      for (const queue of ['a', 'a', 'b']) await d.push([job(queue)]);
      const old = await complete(d, 'a', kept());
      await sleep(300);
      const recent = await complete(d, 'a', kept());
      await complete(d, 'b', kept());
      const waiting = [job('a'), job('a', { delayMs: HOUR })];
      await d.push(waiting);
      const failing = await reserveOne(d, ['a']);
      assert.equal(await d.fail(failing, { id: idOf(failing), job: 'Record', payload: failing.payload, error: 'boom' }), true);
      await d.push([job('a')]);

      assert.equal(await d.records.clean({ state: 'completed', queue: 'a', olderThanMs: 200 }), 1);
      assert.equal(await d.records.find(old), undefined);
      assert.equal((await found(d, recent)).state, 'completed');
      assert.equal(await d.records.clean({ state: 'completed' }), 2, 'every queue, any age');
      assert.equal(await d.records.clean({ state: 'failed', queue: 'b' }), 0);
      assert.equal(await d.records.clean({ state: 'failed', queue: 'a' }), 1);
      assert.equal(await d.records.clean({ state: 'cancelled' }), 0);
      assert.equal((await found(d, waiting[1]!.id)).state, 'delayed');
      assert.equal(await d.size('a'), 2, 'unfinished jobs stay');
    });
    it('notices: PostgreSQL and Redis tell a listener of every job that completes, fails or is cancelled; the others have none (wait polls)', { skip }, async () => {
      const d = await fresh();
      if (!canNotifyFinished(d)) {
        assert.ok(['sqlite', 'mariadb'].includes(backend.name), `${backend.name} should tell when jobs finish`);
        return;
      }
      const heard: string[] = [];
      const unsubscribe = await d.onFinished((ids) => heard.push(...ids));
      const [done, failing, waiting] = [job('notice'), job('notice'), job('notice')];
      await d.push([done, failing, waiting]);
      await complete(d, 'notice', kept('1'));
      const r = await reserveOne(d, ['notice']);
      assert.equal(await d.fail(r, { id: idOf(r), job: 'Record', payload: r.payload, error: 'boom' }), true);
      assert.equal(await d.records.cancel(waiting.id, KEEPING), 'cancelled');
      for (let i = 0; i < 100 && heard.length < 3; i++) await sleep(20);
      assert.deepEqual(heard.sort(), [done.id, failing.id, waiting.id].sort());
      unsubscribe();
    });
  });
}
