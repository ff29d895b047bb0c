/**
 * Priorities, unique jobs and expiry (SPEC 12): the order of the claim, the unique key taken in the
 * push and let go of in the step that starts or ends its holder, and the end of a job that was not
 * started in time. The same cases against every backend.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { canPushInTransaction, type Driver, type Keeping, type Pushed, type Reservation, type ReserveOptions, type StoredJob, type UniqueHold } from '../../src/contract/driver.ts';
import { decodeEnvelope } from '../../src/jobs/envelope.ts';
import { backends, suiteDrivers, type Backend } from '../helpers/backends.ts';
import { idOf, storedJob as job } from '../helpers/stored.ts';

const LEASE: ReserveOptions = { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };
const KEEPING: Keeping = { keepMs: 3_600_000, maxPerQueue: 1_000 };
const HOLD_DONE: UniqueHold = { key: 'Report:42', until: 'done' };

const labelOf = (r: Reservation) => (decodeEnvelope(r.payload).data as { label: string }).label;

/** Reserves one job at a time until none is left; returns their labels in the order handed out. */
async function drain(driver: Driver, queues = ['default']): Promise<string[]> {
  const labels: string[] = [];
  for (;;) {
    const [r] = await driver.reserve(queues, LEASE);
    if (!r) return labels;
    labels.push(labelOf(r));
    assert.equal(await driver.ack(r), true);
  }
}

async function reserveOne(driver: Driver, queues = ['default']): Promise<Reservation> {
  const [r] = await driver.reserve(queues, LEASE);
  assert.ok(r, `a job is ready on ${queues.join(', ')}`);
  return r;
}

/** Pushes one job; returns what the push did with it. */
async function pushOne(driver: Driver, stored: StoredJob): Promise<Pushed> {
  const [pushed] = await driver.push([stored]);
  assert.ok(pushed, 'push reports each job');
  return pushed;
}

/** A push of another job with the same key is stored: the key was free. */
async function assertKeyFree(driver: Driver, hold: UniqueHold, why: string, queue = 'default'): Promise<string> {
  const next = job(queue, { unique: hold, label: 'next' });
  assert.deepEqual(await pushOne(driver, next), { id: next.id, duplicate: false }, `the key is free: ${why}`);
  return next.id;
}

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`priorities, unique jobs and expiry: ${backend.name}`, async () => {
    const { skip, fresh, atOnce } = await suiteDrivers(backend);

    it('higher priority first, FIFO within one priority, negative after the default', { skip }, async () => {
      const d = await fresh();
      const order: [string, number | undefined][] = [['a', undefined], ['b', 5], ['c', -3], ['d', 5], ['e', 0], ['f', 1_000_000], ['g', -3]];
      for (const [label, priority] of order) await d.push([job('default', { label, ...(priority === undefined ? {} : { priority }) })]);
      assert.deepEqual(await drain(d), ['f', 'b', 'd', 'a', 'e', 'c', 'g']);
    });

    it('a claim of several takes them in priority order, and one bulk keeps FIFO within a priority', { skip }, async () => {
      const d = await fresh();
      await d.push(['a', 'b', 'c', 'd', 'e', 'f'].map((label, i) => job('default', { label, priority: i % 2 === 0 ? 0 : 7 })));
      const taken = await d.reserve(['default'], { ...LEASE, count: 4 });
      assert.deepEqual(taken.map(labelOf), ['b', 'd', 'f', 'a']);
      assert.deepEqual(await drain(d), ['c', 'e']);
    });

    it('the order of the queues comes before priority', { skip }, async () => {
      const d = await fresh();
      await d.push([job('low', { label: 'urgent-on-low', priority: 100 }), job('high', { label: 'plain-on-high' })]);
      assert.deepEqual(await drain(d, ['high', 'low']), ['plain-on-high', 'urgent-on-low']);
    });

    it('a delayed job, once due, and a released one run by their priority', { skip }, async () => {
      const d = await fresh();
      await d.push([job('default', { label: 'plain' }), job('default', { label: 'later-urgent', priority: 9, delayMs: 150 }), job('default', { label: 'retried', priority: 4 })]);
      const retried = await reserveOne(d);
      assert.equal(labelOf(retried), 'retried');
      assert.equal(await d.release(retried, 0), true);
      await sleep(250);
      assert.deepEqual(await drain(d), ['later-urgent', 'retried', 'plain']);
    });

    it('jobs of four priorities: counted and listed while waiting, one released goes behind its priority, one cancelled while waiting', { skip }, async () => {
      const d = await fresh();
      const order: [string, number | undefined][] = [['p5a', 5], ['p0', undefined], ['p5b', 5], ['n2', -2], ['p9', 9], ['p5c', 5]];
      const jobs = order.map(([label, priority]) => job('default', { label, ...(priority === undefined ? {} : { priority }) }));
      await d.push(jobs);
      assert.equal(await d.size('default'), 6);
      assert.equal((await d.stats()).find((q) => q.queue === 'default')!.ready, 6);
      const listed = (await d.records.list({ state: 'ready', queue: 'default' })).records.map((r) => r.id);
      assert.deepEqual(listed.sort(), jobs.map((j) => j.id).sort());

      const first = await reserveOne(d);
      assert.equal(labelOf(first), 'p9');
      const second = await reserveOne(d);
      assert.equal(labelOf(second), 'p5a');
      await sleep(5);
      assert.equal(await d.release(second, 0), true);
      assert.equal(await d.ack(first), true);
      assert.equal(await d.records.cancel(jobs[5]!.id, KEEPING), 'cancelled');
      assert.equal(await d.size('default'), 4);
      assert.deepEqual(await drain(d), ['p5b', 'p5a', 'p0', 'n2']);
      assert.equal(await d.size('default'), 0);
    });

    it('a failed job retried goes back in its place among the priorities (the envelope carries it)', { skip }, async () => {
      const d = await fresh();
      await d.push([job('default', { label: 'urgent', priority: 5 })]);
      const failing = await reserveOne(d);
      assert.equal(await d.fail(failing, { id: idOf(failing), payload: failing.payload, job: 'Record', error: 'Error: once' }), true);
      await d.push([job('default', { label: 'plain' })]);
      assert.deepEqual(await d.failed.retry([idOf(failing)]), [idOf(failing)]);
      assert.deepEqual(await drain(d), ['urgent', 'plain']);
    });

    it('unique: four dispatchers at once with one key store one job, and all name it', { skip }, async () => {
      const drivers = await atOnce(await fresh(), 4);
      for (let round = 0; round < 5; round += 1) {
        const hold = { key: `Report:${round}`, until: 'done' } as const;
        const jobs = drivers.map(() => job('default', { unique: hold }));
        const pushed = await Promise.all(drivers.map((d, i) => pushOne(d, jobs[i]!)));
        const stored = pushed.filter((p) => !p.duplicate);
        assert.equal(stored.length, 1, `round ${round}: exactly one stored: ${JSON.stringify(pushed)}`);
        const holder = stored[0]!.id;
        assert.ok(jobs.some((j) => j.id === holder), 'the one stored is one of those pushed');
        for (const p of pushed) assert.equal(p.id, holder, 'every duplicate names the holder');
      }
      assert.equal(await drivers[0]!.size('default'), 5);
    });

    it('unique: a duplicate stores nothing; the key is scoped to its queue; a push sent again is not a duplicate', { skip }, async () => {
      const d = await fresh();
      const first = job('default', { unique: HOLD_DONE, label: 'first' });
      assert.deepEqual(await pushOne(d, first), { id: first.id, duplicate: false });
      assert.deepEqual(await pushOne(d, job('default', { unique: HOLD_DONE, label: 'second' })), { id: first.id, duplicate: true });
      assert.deepEqual(await pushOne(d, first), { id: first.id, duplicate: false }, 'the same job sent again (a lost reply) is the holder itself');
      const elsewhere = job('other', { unique: HOLD_DONE });
      assert.deepEqual(await pushOne(d, elsewhere), { id: elsewhere.id, duplicate: false }, 'another queue has keys of its own');
      assert.deepEqual(await drain(d), ['first']);
    });

    it('unique: one bulk applies the rule per job', { skip }, async () => {
      const d = await fresh();
      const a = job('default', { unique: { key: 'k1', until: 'done' }, label: 'a' });
      const b = job('default', { unique: { key: 'k1', until: 'done' }, label: 'b' });
      const c = job('default', { unique: { key: 'k2', until: 'done' }, label: 'c' });
      const plain = job('default', { label: 'plain' });
      assert.deepEqual(await d.push([a, b, plain, c]), [
        { id: a.id, duplicate: false },
        { id: a.id, duplicate: true },
        { id: plain.id, duplicate: false },
        { id: c.id, duplicate: false },
      ]);
      assert.deepEqual(await drain(d), ['a', 'plain', 'c']);
    });

    it('unique: a bulk of free keys, held keys and a lapsed hold stores each free one once and names each holder, sent twice or not', { skip }, async () => {
      const d = await fresh();
      const held = job('default', { unique: { key: 'held', until: 'done' }, label: 'held' });
      const lapsing = job('default', { unique: { key: 'lapsing', until: 'done', forMs: 100 }, label: 'lapsing', delayMs: 60_000 });
      await d.push([held, lapsing]);
      await sleep(200);
      const bulk = [
        job('default', { unique: { key: 'fresh1', until: 'done' }, label: 'fresh1' }),
        job('default', { unique: { key: 'held', until: 'done' }, label: 'duplicate' }),
        job('default', { unique: { key: 'lapsing', until: 'done' }, label: 'retaken' }),
        job('default', { unique: { key: 'fresh2', until: 'start' }, label: 'fresh2' }),
      ];
      const expected = [
        { id: bulk[0]!.id, duplicate: false },
        { id: held.id, duplicate: true },
        { id: bulk[2]!.id, duplicate: false },
        { id: bulk[3]!.id, duplicate: false },
      ];
      assert.deepEqual(await d.push(bulk), expected);
      assert.deepEqual(await d.push(bulk), expected, 'the same bulk sent again (a lost reply) stores nothing more');
      assert.deepEqual(await pushOne(d, job('default', { unique: { key: 'lapsing', until: 'done' } })), { id: bulk[2]!.id, duplicate: true }, 'the lapsed key has its new holder');
      assert.deepEqual(await drain(d), ['held', 'fresh1', 'retaken', 'fresh2'], 'the lapsed holder still waits, delayed');
    });

    it('unique: a bulk with a duplicate and a job that cannot be stored stores nothing and takes no key', { skip }, async () => {
      const d = await fresh();
      const held = job('default', { unique: HOLD_DONE, label: 'held' });
      await pushOne(d, held);
      const fresh1 = job('default', { unique: { key: 'fresh', until: 'done' } });
      const bad = job('default', { unique: { key: 'bad', until: 'done' } });
      (bad as { payload: unknown }).payload = null;
      await assert.rejects(d.push([fresh1, job('default', { unique: HOLD_DONE }), bad]));
      assert.equal(await d.size('default'), 1, 'only the holder from before');
      await assertKeyFree(d, { key: 'fresh', until: 'done' }, 'the refused bulk took none');
      await assertKeyFree(d, { key: 'bad', until: 'done' }, 'the refused bulk took none');
    });

    // An ability of SQL backends only: a duplicate must not end the application's transaction.
    if (backend.appDatabase) it("unique: inside the application's transaction a duplicate names its holder, and the transaction goes on", { skip }, async () => {
      const d = await fresh();
      assert.ok(canPushInTransaction(d));
      const held = job('default', { unique: HOLD_DONE, label: 'held' });
      await pushOne(d, held);
      const db = backend.appDatabase!();
      try {
        const mine = job('default', { unique: { key: 'mine', until: 'done' }, label: 'mine' });
        const other = job('default', { unique: { key: 'other', until: 'done' }, label: 'other' });
        const pushed = await db.transaction().execute(async (trx) => [
          ...(await d.pushIn(trx, [job('default', { unique: HOLD_DONE })])),
          ...(await d.pushIn(trx, [mine])),
          ...(await d.pushIn(trx, [job('default', { unique: { key: 'mine', until: 'done' } })])),
          // A bulk with a duplicate: its first try fails or skips a row, and the transaction goes on.
          ...(await d.pushIn(trx, [job('default', { unique: HOLD_DONE }), other])),
        ]);
        assert.deepEqual(pushed, [{ id: held.id, duplicate: true }, { id: mine.id, duplicate: false }, { id: mine.id, duplicate: true }, { id: held.id, duplicate: true }, { id: other.id, duplicate: false }]);
        assert.deepEqual(await drain(d), ['held', 'mine', 'other'], 'the transaction committed');
      } finally {
        await db.destroy();
      }
    });

    it('a bulk of plain, priority, expiring and unique jobs over two queues is all-or-nothing, keys included', { skip }, async () => {
      const d = await fresh();
      const jobs = Array.from({ length: 300 }, (_, i) => {
        const options: NonNullable<Parameters<typeof job>[1]> = { label: `j${i}` };
        if (i % 4 !== 0) options.priority = (i % 4) - 2; // -1, 0 or 1; every fourth job plain
        if (i % 5 === 0) options.expireInMs = 3_600_000;
        if (i % 3 === 0) options.unique = { key: `key${i}`, until: i % 2 ? 'start' : 'done' };
        return job(i % 2 ? 'other' : 'default', options);
      });
      const bad = job('other', { priority: 1, label: 'bad' });
      (bad as { payload: unknown }).payload = null;
      await assert.rejects(d.push([...jobs, bad]));
      assert.equal((await d.size('default')) + (await d.size('other')), 0, 'nothing from the refused bulk was stored');
      assert.deepEqual(await d.push(jobs), jobs.map((j) => ({ id: j.id, duplicate: false })), 'no key was taken by the refused bulk');
      // Each queue by priority, then in push order.
      const expected = (queue: string) => {
        const mine = jobs.filter((j) => j.queue === queue);
        return [1, 0, -1].flatMap((p) => mine.filter((j) => (j.priority ?? 0) === p)).map((j) => (decodeEnvelope(j.payload).data as { label: string }).label);
      };
      assert.deepEqual(await drain(d, ['default']), expected('default'));
      assert.deepEqual(await drain(d, ['other']), expected('other'));
    });

    it('unique: the key is let go of when the job completes, with or without a record, or fails', { skip }, async () => {
      const d = await fresh();
      await pushOne(d, job('default', { unique: HOLD_DONE }));
      const r1 = await reserveOne(d);
      assert.equal((await pushOne(d, job('default', { unique: HOLD_DONE }))).duplicate, true, 'still held while it runs (until done)');
      assert.equal(await d.ack(r1, { result: null, ...KEEPING }), true);
      await assertKeyFree(d, HOLD_DONE, 'completed with a record');

      const r2 = await reserveOne(d);
      assert.equal(await d.ack(r2), true);
      await assertKeyFree(d, HOLD_DONE, 'completed without a record');

      const r3 = await reserveOne(d);
      assert.equal(await d.fail(r3, { id: idOf(r3), payload: r3.payload, job: 'Record', error: 'Error: no' }), true);
      await assertKeyFree(d, HOLD_DONE, 'failed');
    });

    it('unique: the key is let go of when the job is cancelled, waiting or running, or its queue cleared', { skip }, async () => {
      const d = await fresh();
      const waiting = job('default', { unique: HOLD_DONE, delayMs: 60_000 });
      await pushOne(d, waiting);
      assert.equal(await d.records.cancel(waiting.id, KEEPING), 'cancelled');
      const running = await assertKeyFree(d, HOLD_DONE, 'cancelled while waiting');

      const r = await reserveOne(d);
      assert.equal(idOf(r), running);
      assert.equal(await d.records.cancel(running, KEEPING), 'requested');
      assert.equal((await pushOne(d, job('default', { unique: HOLD_DONE }))).duplicate, true, 'held until the worker ends it');
      assert.equal(await d.cancelRunning(r, KEEPING), true);
      await assertKeyFree(d, HOLD_DONE, 'cancelled while running');

      assert.equal(await d.clear('default'), 1);
      await assertKeyFree(d, HOLD_DONE, 'its queue cleared');
    });

    it("unique: until 'start' lets go of the key when a try starts; a lease that runs out does not take it back", { skip }, async () => {
      const d = await fresh();
      const hold: UniqueHold = { key: 'sync', until: 'start' };
      await pushOne(d, job('default', { unique: hold, label: 'one' }));
      const [r] = await d.reserve(['default'], { ...LEASE, defaultTimeoutMs: 50, leaseMarginMs: 0 });
      assert.ok(r);
      const second = await assertKeyFree(d, hold, 'its holder started');
      assert.equal((await pushOne(d, job('default', { unique: hold }))).duplicate, true, 'the new holder waits');
      await sleep(120);
      const again = await d.reserve(['default'], { ...LEASE, count: 5 });
      assert.deepEqual(again.map(labelOf).sort(), ['next', 'one'], 'the lost lease runs again, beside the new holder');
      assert.ok(again.some((x) => idOf(x) === second));
    });

    it('unique: the hold lapses after `for`, while the holder still waits', { skip }, async () => {
      const d = await fresh();
      const hold: UniqueHold = { key: 'digest', until: 'done', forMs: 150 };
      const first = job('default', { unique: hold, delayMs: 60_000 });
      await pushOne(d, first);
      assert.deepEqual(await pushOne(d, job('default', { unique: hold })), { id: first.id, duplicate: true });
      await sleep(250);
      await assertKeyFree(d, hold, '`for` ran out');
      assert.equal(await d.size('default'), 2, 'the first holder still waits');
    });

    it('unique replace: a holder that has not started gives way (data and delay), one that runs does not', { skip }, async () => {
      const d = await fresh();
      const hold: UniqueHold = { key: 'search-index', until: 'done', replace: true };
      const first = job('default', { unique: hold, label: 'v1', delayMs: 60_000 });
      await pushOne(d, first);
      const second = job('default', { unique: hold, label: 'v2', delayMs: 0 });
      assert.deepEqual(await pushOne(d, second), { id: second.id, duplicate: false, replaced: first.id });
      assert.equal(await d.records.find(first.id), undefined, 'the replaced holder is gone');
      assert.equal((await d.records.find(second.id))?.state, 'ready', 'with the delay of the one that replaced it');

      const running = await reserveOne(d);
      assert.equal(labelOf(running), 'v2');
      const third = job('default', { unique: hold, label: 'v3' });
      assert.deepEqual(await pushOne(d, third), { id: second.id, duplicate: true }, 'a holder that started is not replaced');
      assert.equal(await d.records.find(third.id), undefined);
    });

    it('expiry: a job not started in time is never handed out, ends expired and lets go of its key', { skip }, async () => {
      const d = await fresh();
      const late = job('default', { expireInMs: 100, unique: HOLD_DONE, label: 'late' });
      await d.push([late, job('default', { label: 'plain' })]);
      await sleep(200);
      assert.deepEqual(await drain(d), ['plain']);
      const record = await d.records.find(late.id);
      assert.equal(record?.state, 'expired');
      assert.ok(record.finishedAt! > 0);
      assert.deepEqual((await d.records.list({ state: 'expired' })).records.map((r) => r.id), [late.id]);
      await assertKeyFree(d, HOLD_DONE, 'expired');
    });

    it('expiry: a job that started in time is not expired on a later try; prune ends one no worker took', { skip }, async () => {
      const d = await fresh();
      const started = job('default', { expireInMs: 150, label: 'started' });
      await d.push([started]);
      const r = await reserveOne(d);
      assert.equal(await d.release(r, 0), true);
      await sleep(250);
      const again = await reserveOne(d);
      assert.equal(idOf(again), started.id);
      assert.equal(again.attempts, 2);
      assert.equal(await d.ack(again), true);

      const unclaimed = job('other', { expireInMs: 50 });
      const ranked = job('other', { expireInMs: 50, priority: 3 });
      await d.push([unclaimed, ranked, job('other', { priority: 3, label: 'stays' })]);
      await sleep(120);
      await d.records.prune({ maxPerQueue: 1_000, keepMs: 60_000 });
      assert.equal((await d.records.find(unclaimed.id))?.state, 'expired');
      assert.equal((await d.records.find(ranked.id))?.state, 'expired');
      assert.equal(await d.size('other'), 1);
      assert.deepEqual(await drain(d, ['other']), ['stays']);
    });
  });
}
