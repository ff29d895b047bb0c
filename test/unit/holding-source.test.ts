/**
 * The holding job source in-process, on the in-memory driver with the Holding ability: jobs held
 * ahead count their try only when they start, a turn that fails loses nothing it carried, and a
 * paused or stopping worker gives back what it holds.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Turn } from '../../src/contract/driver.ts';
import { DEFAULT_KEEPING } from '../../src/contract/records.ts';
import { HoldingSource } from '../../src/worker/holding-source.ts';
import { MemoryHoldingDriver } from '../helpers/memory-driver.ts';
import { ran, silent, stored, worker } from '../helpers/in-process.ts';

const options = { concurrency: 2, defaultTimeoutMs: 5_000, leaseMarginMs: 2_000, keeping: DEFAULT_KEEPING, prefetch: 0 };

/** Lets the turns on their way be answered. */
const answered = () => new Promise((resolve) => setImmediate(resolve));

describe('the holding job source', () => {
  beforeEach(() => {
    ran.length = 0;
  });

  it('a worker drains its queue through turns, each try counted once', async () => {
    const driver = new MemoryHoldingDriver();
    const jobs = Array.from({ length: 20 }, () => stored('Quick'));
    await driver.push(jobs);
    assert.equal((await worker(driver, { concurrency: 4 }).run()).code, 'empty');
    assert.deepEqual(new Set(ran), new Set(jobs.map((job) => `Quick ${job.id} 1`)));
    assert.equal(driver.rows.size, 0);
    assert.ok(driver.turns.some((turn) => turn.acks.length > 0 && turn.starts.length > 0), 'acks ride with starts');
  });

  it('a take after finding nothing starts what it takes at once; later takes hold ahead', async () => {
    const driver = new MemoryHoldingDriver();
    const [a, b, c] = [stored('Quick'), stored('Quick'), stored('Quick')];
    await driver.push([a, b, c]);
    const source = new HoldingSource(driver, options, silent);
    const [first] = await source.take(['default'], 1, 10);
    assert.equal(first!.handle, a.id);
    assert.equal(driver.turns.length, 1, 'one round trip before the first job runs');
    assert.equal(driver.turns[0]!.options.holdMs, 0, 'its take starts the job');
    assert.equal(driver.rows.get(a.id)!.attempts, 1, 'its try is counted');
    assert.equal(driver.rows.get(b.id)!.token, null, 'nothing is held yet');
    await source.ack({ reservation: first! }, 1);
    await source.close();
  });

  it('a held job counts no try until it starts, and a give-back puts it first again untouched', async () => {
    const driver = new MemoryHoldingDriver();
    const [a, b, c] = [stored('Quick'), stored('Quick'), stored('Quick')];
    await driver.push([a, b, c]);
    const source = new HoldingSource(driver, options, silent);
    await source.take(['default'], 1, 10);
    const [second] = await source.take(['default'], 1, 10);
    assert.equal(second!.handle, b.id);
    await answered();
    assert.equal(driver.rows.get(b.id)!.attempts, 1, 'the one it started counts its try');
    assert.notEqual(driver.rows.get(c.id)!.token, null, 'the next one is held');
    assert.equal(driver.rows.get(c.id)!.attempts, 0, 'the one it holds does not yet');
    source.giveBack();
    await source.close();
    assert.deepEqual([driver.rows.get(c.id)!.token, driver.rows.get(c.id)!.attempts], [null, 0], 'given back untouched');
  });

  it('a turn that fails loses nothing: its acks and starts go again in the next turn', async () => {
    const driver = new MemoryHoldingDriver();
    const jobs = [stored('Quick'), stored('Quick'), stored('Quick'), stored('Quick')];
    await driver.push(jobs);
    const source = new HoldingSource(driver, options, silent);
    const [first] = await source.take(['default'], 1, 10);
    const [second] = await source.take(['default'], 1, 10);
    await answered();
    // The next turn carries the first job's ack and the (held) third's start; it is lost on the way.
    const acked = source.ack({ reservation: first! }, 1);
    driver.failNext(1);
    const [third] = await source.take(['default'], 1, 10);
    assert.equal(third!.handle, jobs[2]!.id, 'the held job runs: its start had left');
    await answered();
    assert.equal(driver.rows.get(third!.handle)!.attempts, 0, 'that turn never arrived');
    const [fourth] = await source.take(['default'], 1, 10);
    assert.equal(await acked, true, 'the ack went again, and landed');
    assert.equal(driver.rows.has(first!.handle), false);
    assert.equal(driver.rows.get(third!.handle)!.attempts, 1, 'the start went again: one try, counted once');
    assert.equal(fourth!.handle, jobs[3]!.id);
    await Promise.all([second!, third!, fourth!].map((r) => source.ack({ reservation: r }, 1)));
    await source.close();
    assert.equal(driver.rows.size, 0);
  });

  it('a stopping worker gives back what it holds, and waits for its acks', async () => {
    const driver = new MemoryHoldingDriver();
    await driver.push(Array.from({ length: 6 }, () => stored('Quick')));
    const source = new HoldingSource(driver, { ...options, concurrency: 1 }, silent);
    const [job] = await source.take(['default'], 1, 10);
    const acked = source.ack({ reservation: job! }, 1);
    await source.close();
    assert.equal(await acked, true);
    assert.ok([...driver.rows.values()].every((row) => row.token === null && row.attempts === 0), 'every other job is back, untouched');
  });

  describe('with prefetch', () => {
    /** Runs n Quick jobs through a worker at concurrency 1 on a driver with a round trip of 2 ms. */
    async function drain(n: number, prefetch: number, written: boolean) {
      const driver = new MemoryHoldingDriver();
      driver.written = written;
      driver.roundTripMs = 2;
      const jobs = Array.from({ length: n }, () => stored('Quick'));
      await driver.push(jobs);
      assert.equal((await worker(driver, { concurrency: 1, prefetch }).run()).code, 'empty');
      assert.deepEqual([...ran].sort(), jobs.map((job) => `Quick ${job.id} 1`).sort(), 'each job ran once, on its first try');
      assert.equal(driver.rows.size, 0);
      // A turn starts the held jobs it names, and with holdMs 0 those it takes as well.
      const startedIn = (turn: Turn) => turn.starts.length + (turn.options.holdMs === 0 ? turn.options.count : 0);
      return { turns: driver.turns.length, mostStarts: Math.max(...driver.turns.map(startedIn)) };
    }

    for (const written of [true, false]) {
      it(`a worker of fast jobs at concurrency 1 starts many in one turn (${written ? 'sent at once, as Redis' : 'on record once answered, as SQL'})`, async () => {
        const plain = await drain(300, 0, written);
        assert.equal(plain.mostStarts, 1, 'without prefetch, one job started per turn');
        ran.length = 0;
        const ahead = await drain(300, 40, written);
        assert.ok(ahead.mostStarts > 1 && ahead.mostStarts <= 41, `the job taken and at most 40 ahead in one turn, and more than one (${ahead.mostStarts})`);
        assert.ok(ahead.turns < plain.turns / 2, `fewer turns (${ahead.turns} against ${plain.turns})`);
      });
    }

    it('jobs started ahead and not run go back at a stop with their try refunded', async () => {
      const driver = new MemoryHoldingDriver();
      driver.written = false;
      driver.roundTripMs = 2;
      await driver.push(Array.from({ length: 200 }, () => stored('Quick')));
      const source = new HoldingSource(driver, { ...options, concurrency: 1, prefetch: 20 }, silent);
      let startedAhead = 0;
      for (let i = 0; i < 100 && startedAhead === 0; i += 1) {
        const [job] = await source.take(['default'], 1, 1_000);
        await source.ack({ reservation: job! }, 0);
        startedAhead = [...driver.rows.values()].filter((row) => row.attempts === 1 && row.id !== job!.handle).length;
      }
      assert.ok(startedAhead > 0, 'fast jobs get started ahead');
      await source.close();
      assert.ok([...driver.rows.values()].every((row) => row.token === null && row.attempts === 0), 'every job left is back, untouched');
      assert.ok(driver.calls.includes('release'));
    });

    it('jobs started ahead of a queue paused meanwhile go back with their try refunded; the others stay', async () => {
      const driver = new MemoryHoldingDriver();
      driver.written = false;
      driver.roundTripMs = 2;
      await driver.push([...Array.from({ length: 100 }, () => stored('Quick', {}, 'a')), ...Array.from({ length: 100 }, () => stored('Quick', {}, 'b'))]);
      const source = new HoldingSource(driver, { ...options, concurrency: 1, prefetch: 20 }, silent);
      const startedOn = (queue: string) => [...driver.rows.values()].filter((row) => row.queue === queue && row.attempts === 1).length;
      for (let i = 0; i < 100 && startedOn('a') === 0; i += 1) {
        const [job] = await source.take(['a'], 1, 1_000);
        await source.ack({ reservation: job! }, 0);
      }
      assert.ok(startedOn('a') > 0, 'jobs of a are started ahead');
      // Queue a is paused: the worker now takes from b only.
      const [fromB] = await source.take(['b'], 1, 1_000);
      assert.equal(fromB!.queue, 'b');
      await answered();
      assert.equal(startedOn('a'), 0, 'none of a is left started');
      assert.ok([...driver.rows.values()].filter((row) => row.queue === 'a').every((row) => row.token === null), 'every job of a is ready again');
      await source.ack({ reservation: fromB! }, 0);
      await source.close();
    });

    it('a job started ahead that waited past half the lease margin is released and runs later on a try of its own', async () => {
      const driver = new MemoryHoldingDriver();
      driver.roundTripMs = 2;
      const quick = Array.from({ length: 120 }, () => stored('Quick'));
      const slow = stored('Waits', { ms: 400 });
      const after = Array.from({ length: 60 }, () => stored('Quick'));
      await driver.push([...quick, slow, ...after]);
      // The lease margin is 0.5 s: a job started ahead must run within 250 ms of its start.
      assert.equal((await worker(driver, { concurrency: 1, prefetch: 40, leaseMargin: 0.5 }).run()).code, 'empty');
      const ranAfter = ran.filter((line) => line.startsWith('Quick') && after.some((job) => line.includes(job.id)));
      assert.deepEqual(ranAfter.sort(), after.map((job) => `Quick ${job.id} 1`).sort(), 'each ran once, on its first try');
      assert.ok(driver.calls.includes('release'), 'those started ahead of the slow job were released');
      assert.equal(driver.rows.size, 0);
    });
  });
});
