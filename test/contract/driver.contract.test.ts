/**
 * The driver contract: the same cases, unchanged, against every backend. This is the driver-level
 * truth the worker and the CLI rely on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { isQueueError } from '../../src/errors.ts';
import { decodeEnvelope } from '../../src/jobs/envelope.ts';
import { canPushInTransaction, type Driver, type Failure, type Reservation, type ReserveOptions, type StoredJob } from '../../src/contract/driver.ts';
import { backends, skipReason, type Backend } from '../helpers/backends.ts';
import { idOf, storedJob } from '../helpers/stored.ts';

const LEASE: ReserveOptions = { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };

const job = storedJob;

function failure(reservation: Reservation, error = 'Error: boom\n    at handle (Job.ts:1:1)'): Failure {
  return { id: idOf(reservation), job: 'Record', payload: reservation.payload, error };
}

async function reserveOne(driver: Driver, queues = ['default'], options: Partial<ReserveOptions> = {}): Promise<Reservation | undefined> {
  const [reservation] = await driver.reserve(queues, { ...LEASE, ...options });
  return reservation;
}

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`driver contract: ${backend.name}`, async () => {
    const skip = await skipReason(backend);
    let driver: Driver;
    const open: Driver[] = [];
    const fresh = async () => {
      driver = await backend.create();
      open.push(driver);
      return driver;
    };
    before(fresh);
    after(async () => {
      await Promise.all(open.map((d) => d.close()));
      await backend.cleanup();
    });

    it('push, reserve and ack: a job is handed out once, then gone', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      assert.equal(await d.size('default'), 1);
      const r = await reserveOne(d);
      assert.ok(r);
      assert.equal(idOf(r), pushed.id);
      assert.equal(r.queue, 'default');
      assert.equal(r.attempts, 1);
      assert.ok(r.leaseExpiresAt > Date.now() + 60_000, 'lease covers timeout + margin');
      assert.equal(await reserveOne(d), undefined, 'a reserved job is not handed out twice');
      assert.equal(await d.ack(r), true);
      assert.equal(await d.size('default'), 0);
      assert.equal(await reserveOne(d), undefined);
    });

    it('delay: a delayed job is not available before its time', { skip }, async () => {
      const d = await fresh();
      await d.push([job('default', { delayMs: 400 })]);
      assert.equal(await reserveOne(d), undefined);
      assert.equal(await d.size('default'), 1, 'a delayed job counts in size');
      await sleep(500);
      assert.ok(await reserveOne(d));
    });

    it('FIFO within a queue, for single and bulk pushes', { skip }, async () => {
      const d = await fresh();
      const single = [job('default', { label: 'a' }), job('default', { label: 'b' })];
      for (const j of single) await d.push([j]);
      const bulk = Array.from({ length: 5 }, (_, i) => job('default', { label: `bulk-${i}` }));
      await d.push(bulk);
      const order: string[] = [];
      for (let r = await reserveOne(d); r; r = await reserveOne(d)) order.push(idOf(r));
      assert.deepEqual(order, [...single, ...bulk].map((j) => j.id));
    });

    it('a batch reserve hands out up to count jobs, in order', { skip }, async () => {
      const d = await fresh();
      const jobs = Array.from({ length: 5 }, () => job());
      await d.push(jobs);
      const batch = await d.reserve(['default'], { ...LEASE, count: 3 });
      assert.deepEqual(batch.map(idOf), jobs.slice(0, 3).map((j) => j.id));
      const rest = await d.reserve(['default'], { ...LEASE, count: 10 });
      assert.deepEqual(rest.map(idOf), jobs.slice(3).map((j) => j.id));
    });

    it('queue priority: each pick takes from the first non-empty queue', { skip }, async () => {
      const d = await fresh();
      const low = job('low');
      const high = job('high');
      await d.push([low]);
      await d.push([high]);
      const first = await reserveOne(d, ['high', 'low']);
      assert.equal(first && idOf(first), high.id);
      assert.equal(first?.queue, 'high');
      const second = await reserveOne(d, ['high', 'low']);
      assert.equal(second && idOf(second), low.id);
      assert.equal(await reserveOne(d, ['other']), undefined, 'queues not asked for are not touched');
    });

    it('release with backoff: the job comes back after the delay, attempts counted', { skip }, async () => {
      const d = await fresh();
      await d.push([job()]);
      const r1 = (await reserveOne(d))!;
      assert.equal(await d.release(r1, 400), true);
      assert.equal(await reserveOne(d), undefined, 'not before its backoff');
      await sleep(500);
      const r2 = await reserveOne(d);
      assert.ok(r2);
      assert.equal(r2.attempts, 2);
    });

    it('attempts count reservations, not completions', { skip }, async () => {
      const d = await fresh();
      await d.push([job()]);
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const r = (await reserveOne(d))!;
        assert.equal(r.attempts, attempt);
        await d.release(r, 0);
      }
    });

    it('a release that refunds its attempt does not count as a try', { skip }, async () => {
      const d = await fresh();
      await d.push([job()]);
      const first = (await reserveOne(d))!;
      assert.equal(await d.release(first, 0, { refundAttempt: true }), true);
      assert.equal((await reserveOne(d))!.attempts, 1, 'handed back unfinished: still the first try');
    });

    it('lease expiry: the job is available again and the stale owner can change nothing', { skip }, async () => {
      const d = await fresh();
      const other = await backend.sibling();
      open.push(other);
      await d.push([job('default', { timeoutMs: 300 })]);
      const stale = (await reserveOne(d, ['default'], { leaseMarginMs: 0 }))!;
      assert.equal(await reserveOne(other), undefined, 'not while the lease is live');
      await sleep(450);
      const fresh2 = (await reserveOne(other, ['default'], { leaseMarginMs: 30_000 }))!;
      assert.ok(fresh2, 'an expired lease makes the job available');
      assert.equal(fresh2.attempts, 2);
      assert.notEqual(fresh2.token, stale.token);
      assert.equal(await d.ack(stale), false, 'stale ack');
      assert.equal(await d.release(stale, 0), false, 'stale release');
      assert.equal(await d.fail(stale, failure(stale)), false, 'stale fail');
      assert.equal((await d.failed.list()).length, 0, 'a stale fail stores no record');
      assert.equal(await d.size('default'), 1, 'the job is still there for its new owner');
      assert.equal(await other.ack(fresh2), true);
      assert.equal(await d.size('default'), 0);
    });

    it('the default timeout sizes the lease of jobs that declare none', { skip }, async () => {
      const d = await fresh();
      await d.push([job()]);
      const r = (await reserveOne(d, ['default'], { defaultTimeoutMs: 200, leaseMarginMs: 0 }))!;
      await sleep(350);
      const again = await reserveOne(d);
      assert.ok(again, 'lease of 0.2s ran out');
      assert.equal(await d.ack(r), false);
    });

    it('fail stores a record with the error, and the job leaves its queue', { skip }, async () => {
      const d = await fresh();
      const pushed = job('mail');
      await d.push([pushed]);
      const r = (await reserveOne(d, ['mail']))!;
      assert.equal(await d.fail(r, failure(r, 'Error: smtp down\n    at stack')), true);
      assert.equal(await d.size('mail'), 0);
      const [record] = await d.failed.list();
      assert.ok(record);
      assert.equal(record.id, pushed.id);
      assert.equal(record.queue, 'mail');
      assert.equal(record.job, 'Record');
      assert.equal(record.connection, d.connection);
      assert.match(record.error, /smtp down/);
      assert.ok(Math.abs(record.failedAt - Date.now()) < 60_000);
      assert.deepEqual(await d.failed.find(pushed.id), record);
      assert.equal(await d.failed.find('no-such-id'), undefined);
    });

    it('retry puts a failed job back with fresh tries; unknown ids move nothing', { skip }, async () => {
      const d = await fresh();
      const pushed = job('mail');
      await d.push([pushed]);
      for (let i = 0; i < 2; i += 1) await d.release((await reserveOne(d, ['mail']))!, 0);
      const r = (await reserveOne(d, ['mail']))!;
      assert.equal(r.attempts, 3);
      await d.fail(r, failure(r));

      await assert.rejects(d.failed.retry([pushed.id, 'no-such-id']), (e) => isQueueError(e, 'FAILED_JOB_NOT_FOUND'));
      assert.equal((await d.failed.list()).length, 1, 'all-or-nothing: the known id stayed failed');
      assert.equal(await d.size('mail'), 0);

      assert.deepEqual(await d.failed.retry([pushed.id]), [pushed.id]);
      assert.equal((await d.failed.list()).length, 0);
      const again = (await reserveOne(d, ['mail']))!;
      assert.equal(idOf(again), pushed.id);
      assert.equal(again.attempts, 1, 'fresh tries');
      assert.equal(decodeEnvelope(again.payload).attempts, 0);
    });

    it('retryAll moves every failed job of a queue; garbage payloads cannot be retried', { skip }, async () => {
      const d = await fresh();
      await d.push([job('a'), job('a'), job('b')]);
      for (const queue of ['a', 'a', 'b']) {
        const r = (await reserveOne(d, [queue]))!;
        await d.fail(r, failure(r));
      }
      const moved = await d.failed.retryAll({ queue: 'a' });
      assert.equal(moved.length, 2);
      assert.equal(await d.size('a'), 2);
      assert.equal((await d.failed.list()).length, 1);

      const garbage: StoredJob = { id: randomUUID(), queue: 'g', payload: 'not json', delayMs: 0, timeoutMs: null };
      await d.push([garbage]);
      const r = (await reserveOne(d, ['g']))!;
      await d.fail(r, { id: null, job: null, payload: r.payload, error: 'invalid payload: not JSON' });
      const record = (await d.failed.list({ queue: 'g' }))[0]!;
      assert.equal(record.payload, 'not json', 'raw bytes are kept');
      await assert.rejects(d.failed.retry([record.id]), (e) => isQueueError(e, 'FAILED_JOB_NOT_RETRYABLE'));
      assert.ok(await d.failed.find(record.id), 'still there after the refused retry');
    });

    it('forget, flush and flush --before delete failed records', { skip }, async () => {
      const d = await fresh();
      await d.push([job(), job(), job()]);
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const r = (await reserveOne(d))!;
        ids.push(idOf(r));
        await d.fail(r, failure(r));
      }
      assert.equal(await d.failed.forget(ids[0]!), true);
      assert.equal(await d.failed.forget(ids[0]!), false);
      assert.equal(await d.failed.flush({ olderThanMs: 3_600_000 }), 0, 'nothing is an hour old');
      assert.equal(await d.failed.flush(), 2);
      assert.deepEqual(await d.failed.list(), []);
    });

    it('failed list is newest first and honours queue and limit', { skip }, async () => {
      const d = await fresh();
      const jobs = [job('x'), job('y'), job('x')];
      await d.push(jobs);
      for (const queue of ['x', 'y', 'x']) {
        const r = (await reserveOne(d, [queue]))!;
        await d.fail(r, failure(r));
        await sleep(5);
      }
      const all = await d.failed.list();
      assert.deepEqual(all.map((f) => f.id), [jobs[2]!.id, jobs[1]!.id, jobs[0]!.id]);
      assert.deepEqual((await d.failed.list({ queue: 'x', limit: 1 })).map((f) => f.id), [jobs[2]!.id]);
    });

    it('bulk push is all-or-nothing', { skip }, async () => {
      const d = await fresh();
      // More rows than one statement takes on any SQL database (500 per VALUES list, 5,000 from arrays), the bad one in the last.
      const jobs = Array.from({ length: 5200 }, () => job());
      (jobs[5100] as { payload: unknown }).payload = null;
      await assert.rejects(d.push(jobs));
      assert.equal(await d.size('default'), 0, 'nothing from the failed bulk was stored');
      await d.push(jobs.filter((_, i) => i !== 5100));
      assert.equal(await d.size('default'), 5199);
    });

    it('payloads and unique keys come back exactly as pushed: quotes, backslashes, line feeds', { skip }, async () => {
      const d = await fresh();
      const odd = ['say "hi"', 'back\\slash', 'tab\tand \u0001', 'émails-ü 🚀', '{"a":[1,"}"]}'];
      // Raw payloads (a driver stores bytes, JSON or not): a bulk with no line feed in any (PostgreSQL
      // sends such a column as one string), a bulk with one (it keeps the array), and one alone.
      const raw = (texts: string[], bulk: string) => texts.map((text, i) => ({ ...job(), payload: `${bulk}${i}|${text}` }));
      const pushed = [raw(odd, 'a'), raw([...odd, 'two\nlines'], 'b'), raw(['alone\nwith a line feed'], 'c')];
      for (const jobs of pushed) await d.push(jobs);
      const payloads: string[] = [];
      for (let r = await reserveOne(d); r; r = await reserveOne(d)) {
        payloads.push(r.payload);
        assert.equal(await d.ack(r), true);
      }
      assert.deepEqual(payloads, pushed.flat().map((j) => j.payload));
      // Keys with the same characters: a bulk of them all, one with no key among them, then each
      // again alone, a duplicate naming its holder.
      const keys = [...odd, 'two\nlines'];
      const keyed = keys.map((key) => job('default', { unique: { key, until: 'done' } }));
      const plain = job();
      assert.deepEqual(await d.push([...keyed, plain]), [...keyed, plain].map((j) => ({ id: j.id, duplicate: false })));
      for (const [i, key] of keys.entries()) {
        assert.deepEqual(await d.push([job('default', { unique: { key, until: 'done' } })]), [{ id: keyed[i]!.id, duplicate: true }], `key ${JSON.stringify(key)}`);
      }
      assert.equal(await d.size('default'), keys.length + 1);
    });

    it('size and stats count ready, delayed, reserved and failed per queue', { skip }, async () => {
      const d = await fresh();
      await d.push([job('q1'), job('q1'), job('q1'), job('q1', { delayMs: 60_000 }), job('q2')]);
      const reserved = (await reserveOne(d, ['q1']))!;
      const failing = (await reserveOne(d, ['q1']))!;
      await d.fail(failing, failure(failing));
      assert.equal(await d.size('q1'), 3);
      assert.deepEqual(await d.stats(), [
        { queue: 'q1', ready: 1, delayed: 1, reserved: 1, failed: 1, completed: 0, cancelled: 0 },
        { queue: 'q2', ready: 1, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 },
      ]);
      await d.ack(reserved);
    });

    it('clear empties one queue and leaves the others and failed records', { skip }, async () => {
      const d = await fresh();
      await d.push([job('a'), job('a', { delayMs: 60_000 }), job('b')]);
      const r = (await reserveOne(d, ['b']))!;
      await d.release(r, 0);
      assert.equal(await d.clear('a'), 2);
      assert.equal(await d.size('a'), 0);
      assert.equal(await d.size('b'), 1);
    });

    it('clear deletes waiting jobs only: a reserved job stays with its worker, an expired lease goes', { skip }, async () => {
      const d = await fresh();
      await d.push([job('a', { timeoutMs: 200 }), job('a'), job('a'), job('a', { delayMs: 60_000 })]);
      const expiring = (await reserveOne(d, ['a'], { leaseMarginMs: 0 }))!;
      const running = (await reserveOne(d, ['a']))!;
      await sleep(300);
      assert.equal(await d.clear('a'), 3, 'the ready job, the delayed one and the one whose lease ran out');
      assert.equal(await d.size('a'), 1, 'the running job is still there');
      assert.equal(await d.ack(running), true, 'and its worker finishes it');
      assert.equal(await d.ack(expiring), true, 'a job gone altogether counts as done');
      assert.equal(await d.clear('a'), 0);
    });

    it('an operation sent twice (a re-send after a dropped connection lost its answer) takes effect once', { skip }, async () => {
      const d = await fresh();
      const pushed = job();
      await d.push([pushed]);
      await d.push([pushed]);
      assert.equal(await d.size('default'), 1, 'a push sent twice stores one job');
      // A push goes without its skip clause first where a failed statement costs nothing else
      // (MySQL; PostgreSQL for a bulk): a collision fails it, and it goes again with the clause.
      const bulk = [job('b'), job('b'), job('b')];
      assert.deepEqual(await d.push(bulk), bulk.map((one) => ({ id: one.id, duplicate: false })));
      assert.deepEqual(await d.push(bulk), bulk.map((one) => ({ id: one.id, duplicate: false })), 'a bulk sent twice says stored');
      const more = job('b');
      await d.push([bulk[1]!, more]);
      assert.equal(await d.size('b'), 4, 'a bulk sent twice stores each job once, and one sent with a stored job stores the new one');
      assert.equal(await d.clear('b'), 4);
      const first = (await reserveOne(d))!;
      assert.equal(await reserveOne(d), undefined, 'and hands it out once');

      assert.equal(await d.release(first, 0, { refundAttempt: true }), true);
      assert.equal(await d.release(first, 0, { refundAttempt: true }), true, 'a release sent twice says done');
      const second = (await reserveOne(d))!;
      assert.equal(second.attempts, 1, 'and refunds one try, not two');
      assert.equal(await d.release(second, 0), true);
      assert.equal(await d.release(second, 0), true);
      const third = (await reserveOne(d))!;
      assert.equal(third.attempts, 2);
      assert.equal(await reserveOne(d), undefined, 'released once: one job to hand out');

      assert.equal(await d.fail(third, failure(third)), true);
      assert.equal(await d.fail(third, failure(third)), true, 'a fail sent twice says stored, so the failed() hook runs');
      assert.equal((await d.failed.list()).length, 1, 'one record');

      const other = job();
      await d.push([other]);
      const r = (await reserveOne(d))!;
      assert.equal(await d.ack(r), true);
      assert.equal(await d.ack(r), true, 'an ack sent twice says done');
      assert.equal(await d.size('default'), 0);
    });

    // An ability of SQL backends only (Redis has afterCommit, in test/unit/transactions.test.ts).
    if (backend.appDatabase) it("a push inside the application's transaction is stored when it commits, and not when it rolls back", { skip }, async () => {
      const d = await fresh();
      assert.ok(canPushInTransaction(d));
      const db = backend.appDatabase!();
      try {
        const [kept, dropped] = [job(), job()];
        await db.transaction().execute(async (trx) => d.pushIn(trx, [kept]));
        await assert.rejects(db.transaction().execute(async (trx) => {
          await d.pushIn(trx, [dropped]);
          throw new Error('the application rolls back');
        }), /rolls back/);
        assert.equal(await d.size('default'), 1);
        assert.equal(idOf((await reserveOne(d))!), kept.id);
        // A bulk sent twice in one transaction: the second collides, which must not end the
        // transaction (PostgreSQL aborts one at a failed statement).
        const bulk = [job('b'), job('b')];
        await db.transaction().execute(async (trx) => {
          await d.pushIn(trx, bulk);
          await d.pushIn(trx, [...bulk, job('b')]);
        });
        assert.equal(await d.size('b'), 3, 'the transaction committed each job once');
      } finally {
        await db.destroy();
      }
    });

    // A server database is the application's too: its tables come and go while a worker migrates.
    if (backend.name === 'mariadb' || backend.name === 'postgres') it('migrates while another connection creates and drops tables in the same database', { skip }, async () => {
      const db = backend.appDatabase!();
      const base = `churn_${randomUUID().slice(0, 8)}`;
      let churning = true;
      let churned = 0;
      const churn = (async () => {
        for (; churning; churned += 1) {
          await db.schema.createTable(`${base}_${churned % 4}`).ifNotExists().addColumn('id', 'integer').execute();
          await db.schema.dropTable(`${base}_${(churned + 2) % 4}`).ifExists().execute();
        }
      })();
      try {
        for (let i = 0; i < 8; i += 1) await fresh();
      } finally {
        churning = false;
        await churn;
        for (let i = 0; i < 4; i += 1) await db.schema.dropTable(`${base}_${i}`).ifExists().execute();
        await db.destroy();
      }
      assert.ok(churned >= 8, `the other connection made and dropped tables meanwhile (${churned} times)`);
    });

    it('restart and pause signals are shared by every worker of the connection', { skip }, async () => {
      const d = await fresh();
      const other = await backend.sibling();
      open.push(other);
      const initial = await other.signals();
      assert.deepEqual({ ...initial, now: 0 }, { now: 0, restartRequestedAt: null, paused: [], cancelRequested: [] });
      assert.ok(Math.abs(initial.now - Date.now()) < 5_000, 'now is the backend clock, close to ours');
      const before = initial.now;
      await d.requestRestart();
      await d.pause('emails');
      await d.pause('reports');
      const seen = await other.signals();
      assert.ok(seen.restartRequestedAt !== null && seen.restartRequestedAt >= before, 'stamped by the backend clock');
      assert.ok(seen.now >= seen.restartRequestedAt);
      assert.deepEqual([...seen.paused].sort(), ['emails', 'reports']);
      await d.resume('emails');
      assert.deepEqual((await other.signals()).paused, ['reports']);
    });

    it('queue names with odd characters work', { skip }, async () => {
      const d = await fresh();
      for (const queue of ['a:b', '{tag}', 'with space', 'émails-ü', 'x'.repeat(255)]) {
        await d.push([job(queue)]);
        const r = (await reserveOne(d, [queue]))!;
        assert.equal(r.queue, queue);
        assert.equal(await d.ack(r), true);
      }
    });

    it('two drivers on the same storage never hand out one job twice', { skip }, async () => {
      const a = await fresh();
      const b = await backend.sibling();
      open.push(b);
      const jobs = Array.from({ length: 200 }, () => job());
      await a.push(jobs);
      const seen: string[] = [];
      const drain = async (d: Driver) => {
        for (;;) {
          const batch = await d.reserve(['default'], { ...LEASE, count: 7 });
          if (batch.length === 0) return;
          for (const r of batch) {
            seen.push(idOf(r));
            assert.equal(await d.ack(r), true);
          }
        }
      };
      await Promise.all([drain(a), drain(b)]);
      assert.equal(seen.length, 200);
      assert.equal(new Set(seen).size, 200);
    });

    it("a reserve made while the last batch's acks commit still finds the ready jobs, down to the last", { skip }, async () => {
      const d = await fresh();
      await d.push(Array.from({ length: 1000 }, () => job()));
      // A busy worker: the jobs it just finished are acknowledged while it reserves the next ones.
      let batch = await d.reserve(['default'], { ...LEASE, count: 50 });
      for (let left = 950; left > 0; left -= 50) {
        const acking = batch.map((r) => d.ack(r));
        await new Promise((resolve) => setImmediate(resolve));
        const next = await d.reserve(['default'], { ...LEASE, count: 50 });
        assert.ok((await Promise.all(acking)).every(Boolean));
        assert.equal(next.length, 50, `with ${left} jobs ready`);
        batch = next;
      }
      await Promise.all(batch.map((r) => d.ack(r)));
      assert.equal(await d.size('default'), 0);
    });
  });
}
