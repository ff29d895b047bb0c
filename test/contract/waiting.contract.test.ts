/**
 * The BlockingWait ability (every backend: Redis blocks on its queues' notify lists, PostgreSQL
 * listens for NOTIFY, MariaDB and SQLite look again and again). What an idle worker relies on: its
 * wait ends soon after a job is made ready on one of its queues, by any process (pushed, released
 * with no delay, retried from the failed store), or when a delayed job comes due; it lasts until
 * maxMs when nothing happens, and a push that was rolled back, or went to another queue, does not
 * end it. What it resolves to: true whenever a job may be ready (the worker then takes); false only
 * when it is sure none came ready (the worker waits again without a take). SQL drivers look at the
 * table itself and say false after a quiet wait; Redis always says true (a delayed job pushed by
 * another process tells it nothing: its worker takes after each block of at most a second).
 *
 * The bounds are loose on purpose (a loaded machine must not fail them): each only tells a wait
 * that ended for its reason from one that ran to its end. The figures are the bench's.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { canBlock, canHold, canPushInTransaction, type BlockingWait, type Driver, type ReserveOptions } from '../../src/contract/driver.ts';
import { backends, suiteDrivers, type Backend } from '../helpers/backends.ts';
import { idOf, storedJob as job } from '../helpers/stored.ts';

const LEASE: ReserveOptions = { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };

/** Longer than any wait these cases expect to end early (Redis ends one after a second anyway, SQL after 5 s). */
const LONG_MS = 5_000;
/** How late a wait may end after its reason, here. */
const SLACK_MS = 500;

type Waiting = Driver & BlockingWait;

/** What a worker does before it waits: a take that finds nothing (it tells Redis when the next job is due). */
async function takeNothing(driver: Driver, queues = ['default']): Promise<void> {
  if (canHold(driver)) {
    const { held } = await driver.turn({ acks: [], starts: [], giveBacks: [], queues, options: { ...LEASE, holdMs: 30_000 } }).result;
    assert.equal(held.length, 0, 'nothing is ready yet');
  } else {
    assert.equal((await driver.reserve(queues, LEASE)).length, 0, 'nothing is ready yet');
  }
}

/** Starts one wait; `ended` resolves to when it returned, in ms after it began, `found` to what it returned. */
function startWait(driver: Waiting, maxMs = LONG_MS, queues = ['default']): { ended: Promise<number>; found: Promise<boolean> } {
  const began = performance.now();
  const found = driver.waitForJobs(queues, maxMs);
  return { ended: found.then(() => performance.now() - began), found };
}

/** What a wait that nobody ended resolves to on this backend (see the header). */
function quietWaitSays(backend: Backend): boolean {
  return backend.name === 'redis';
}

/**
 * Waits as an idle worker does while `act` runs, 200 ms in; resolves to how long after `act` began
 * the wait ended (ms). A wait that ends before then ended for nothing, which a driver may do (Redis's
 * notify list is a hint: a push's marker can outlive it), and the worker would find nothing and
 * wait again: so does this.
 */
async function wokenBy(driver: Waiting, act: () => Promise<unknown>): Promise<number> {
  let actedAt: number | undefined;
  const waiting = (async () => {
    for (;;) {
      const found = await driver.waitForJobs(['default'], LONG_MS);
      if (actedAt !== undefined) {
        assert.equal(found, true, 'the wait that a job ended says a job may be ready');
        return performance.now() - actedAt;
      }
    }
  })();
  await sleep(200);
  actedAt = performance.now();
  await act();
  return waiting;
}

/** Runs `work` with a second driver on the same storage, as another process has, closed after. */
async function withOther<T>(backend: Backend, work: (other: Driver) => Promise<T>): Promise<T> {
  const other = await backend.sibling();
  try {
    return await work(other);
  } finally {
    await other.close();
  }
}

function waiting(driver: Driver): Waiting {
  assert.ok(canBlock(driver), 'the driver can block until a job may be ready');
  return driver;
}

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`waiting for jobs: ${backend.name}`, async () => {
    const { skip, fresh } = await suiteDrivers(backend);

    // One job, and a bulk (on PostgreSQL a bulk's NOTIFY rides in its INSERT from arrays, as one job's does).
    for (const [what, count] of [['a job', 1], ['a bulk', 120]] as const) {
      it(`${what} pushed by another process ends the wait soon after`, { skip }, async () => {
        const d = waiting(await fresh());
        await takeNothing(d);
        const ms = await withOther(backend, (other) => wokenBy(d, () => other.push(Array.from({ length: count }, () => job()))));
        assert.ok(ms < SLACK_MS, `ended ${Math.round(ms)} ms after the push`);
      });
    }

    it('a job pushed through the same driver ends the wait soon after', { skip }, async () => {
      const d = waiting(await fresh());
      await takeNothing(d);
      const ms = await wokenBy(d, () => d.push([job()]));
      assert.ok(ms < SLACK_MS, `ended ${Math.round(ms)} ms after the push`);
    });

    it('a job released with no delay by another process ends the wait soon after', { skip }, async () => {
      const d = waiting(await fresh());
      const ms = await withOther(backend, async (other) => {
        await d.push([job()]);
        const [reserved] = await other.reserve(['default'], LEASE);
        assert.ok(reserved);
        await takeNothing(d);
        return wokenBy(d, async () => assert.equal(await other.release(reserved, 0), true));
      });
      assert.ok(ms < SLACK_MS, `ended ${Math.round(ms)} ms after the release`);
    });

    it('a failed job retried by another process ends the wait soon after', { skip }, async () => {
      const d = waiting(await fresh());
      const ms = await withOther(backend, async (other) => {
        await d.push([job()]);
        const [reserved] = await other.reserve(['default'], LEASE);
        assert.ok(reserved);
        assert.equal(await other.fail(reserved, { id: idOf(reserved), job: 'Record', payload: reserved.payload, error: 'Error: boom' }), true);
        await takeNothing(d);
        return wokenBy(d, async () => assert.deepEqual(await other.failed.retry([idOf(reserved)]), [idOf(reserved)]));
      });
      assert.ok(ms < SLACK_MS, `ended ${Math.round(ms)} ms after the retry`);
    });

    it('a job ready already: the wait ends at once', { skip }, async () => {
      const d = waiting(await fresh());
      await d.push([job()]);
      const wait = startWait(d);
      const ms = await wait.ended;
      assert.ok(ms < SLACK_MS, `ended ${Math.round(ms)} ms in`);
      assert.equal(await wait.found, true);
    });

    it('a delayed job ends the wait when it comes due', { skip }, async () => {
      const d = waiting(await fresh());
      await d.push([job('default', { delayMs: 400 })]);
      await takeNothing(d);
      const wait = startWait(d);
      const ms = await wait.ended;
      assert.ok(ms >= 250 && ms < 400 + SLACK_MS, `ended ${Math.round(ms)} ms in, the job due at 400 ms`);
      assert.equal(await wait.found, true, 'it says a job may be ready');
      assert.equal((await d.reserve(['default'], LEASE)).length, 1, 'and the job is ready then');
    });

    it('nothing happens: the wait lasts until maxMs', { skip }, async () => {
      const d = waiting(await fresh());
      await takeNothing(d);
      const wait = startWait(d, 600);
      const ms = await wait.ended;
      assert.ok(ms >= 550 && ms < 600 + SLACK_MS, `ended ${Math.round(ms)} ms in, maxMs 600`);
      assert.equal(await wait.found, quietWaitSays(backend));
    });

    it('its abort signal ends the wait at once (the worker stops, or a slot frees up)', { skip }, async () => {
      const d = waiting(await fresh());
      await takeNothing(d);
      const woken = new AbortController();
      const began = performance.now();
      const found = d.waitForJobs(['default'], LONG_MS, woken.signal);
      const ended = found.then(() => performance.now() - began);
      await sleep(200);
      woken.abort();
      const ms = await ended;
      assert.equal(await found, true, 'an ended wait sends the worker to take');
      assert.ok(ms >= 150 && ms < 200 + SLACK_MS, `ended ${Math.round(ms)} ms in, aborted at 200 ms`);
      const again = performance.now();
      await d.waitForJobs(['default'], LONG_MS, woken.signal);
      assert.ok(performance.now() - again < SLACK_MS, 'a wait with its signal aborted already returns at once');
    });

    it('a push on another queue does not end the wait', { skip }, async () => {
      const d = waiting(await fresh());
      await takeNothing(d, ['default', 'high']);
      const wait = startWait(d, 800, ['default', 'high']);
      await sleep(100);
      await d.push([job('emails')]);
      const ms = await wait.ended;
      assert.ok(ms >= 750, `ended ${Math.round(ms)} ms in, maxMs 800`);
      assert.equal(await wait.found, quietWaitSays(backend), 'a job on another queue is none of this wait\'s');
    });

    if (backend.appDatabase) it("a push in the application's transaction ends the wait at its commit, and not when it rolls back", { skip }, async () => {
      const d = waiting(await fresh());
      assert.ok(canPushInTransaction(d));
      await takeNothing(d);
      const db = backend.appDatabase!();
      try {
        const rolledBack = startWait(d, 800);
        await sleep(100);
        await assert.rejects(db.transaction().execute(async (trx) => {
          await d.pushIn(trx, [job()]);
          throw new Error('the application rolls back');
        }), /rolls back/);
        const ms = await rolledBack.ended;
        assert.ok(ms >= 750, `ended ${Math.round(ms)} ms in, maxMs 800: the rolled-back push woke it`);
        assert.equal(await rolledBack.found, quietWaitSays(backend), 'a rolled-back push is no job');

        const woken = await wokenBy(d, () => db.transaction().execute(async (trx) => d.pushIn(trx, [job()])));
        assert.ok(woken < SLACK_MS, `ended ${Math.round(woken)} ms after the commit began`);
      } finally {
        await db.destroy();
      }
    });
  });
}
