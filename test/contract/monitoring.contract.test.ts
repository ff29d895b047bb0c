/**
 * Workers' heartbeats and per-minute metric buckets (SPEC 15): a worker is listed while its lease
 * holds and drops off after it; metric counts of many workers add up exactly, once per beat even
 * when a beat is sent twice, in minute buckets kept a day and in all-time totals. The same cases
 * against every backend.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { METRIC_KEEP_MS, type MetricBucket, type WorkerBeat } from '../../src/contract/driver.ts';
import { minuteOf } from '../../src/contract/metrics.ts';
import { backends, suiteDrivers, type Backend } from '../helpers/backends.ts';
import { storedJob as job } from '../helpers/stored.ts';

function beat(id: string, seq: number, fields: Partial<WorkerBeat> = {}): WorkerBeat {
  return {
    id, name: `host-a:${id}`, host: 'host-a', pid: 4242, queues: ['emails', 'default'], concurrency: 5,
    running: [], startedAt: Date.UTC(2026, 11, 6, 8), jobsDone: seq * 10, rssBytes: 52_428_800, seq, ...fields,
  };
}

const NOW_MINUTE = minuteOf(Date.now());
const counts = (buckets: MetricBucket[]) => buckets.map((b) => ({ queue: b.queue, minute: b.minute, counts: b.counts }));

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`monitoring: ${backend.name}`, async () => {
    const { skip, fresh, atOnce } = await suiteDrivers(backend);

    it('a beat lists the worker with what it said, by the backend clock; the next beat replaces it; leave() takes it off', { skip }, async () => {
      const d = await fresh();
      assert.deepEqual(await d.monitor.workers(), []);
      const before = Date.now();
      await d.monitor.beat(beat('w1', 1, { running: ['job-1', 'job-2'] }), 10_000, []);
      await d.monitor.beat(beat('w0', 1, { name: 'a-first', queues: ['default'] }), 10_000, []);
      const [first, second] = await d.monitor.workers();
      assert.equal(first!.name, 'a-first', 'by name');
      const { beatAt, expiresAt, ...said } = second!;
      assert.deepEqual(said, beat('w1', 1, { running: ['job-1', 'job-2'] }));
      assert.ok(beatAt >= before - 1_000 && beatAt <= Date.now() + 1_000, `beatAt ${beatAt} is now`);
      assert.equal(expiresAt, beatAt + 10_000);

      await d.monitor.beat(beat('w1', 2, { running: [], jobsDone: 99 }), 10_000, []);
      const w1 = (await d.monitor.workers()).find((w) => w.id === 'w1')!;
      assert.deepEqual([w1.running, w1.jobsDone, w1.seq], [[], 99, 2]);

      await d.monitor.leave('w1');
      assert.deepEqual((await d.monitor.workers()).map((w) => w.id), ['w0']);
      await d.monitor.leave('never-was');
    });

    it('a worker whose lease runs out without a beat drops off', { skip }, async () => {
      const d = await fresh();
      await d.monitor.beat(beat('short', 1), 400, []);
      await d.monitor.beat(beat('long', 1), 60_000, []);
      assert.equal((await d.monitor.workers()).length, 2);
      await sleep(900);
      assert.deepEqual((await d.monitor.workers()).map((w) => w.id), ['long']);
      // A beat that does the housekeeping (SQL: one in ten of each worker) deletes what ran out.
      await d.monitor.beat(beat('long', 11), 60_000, []);
      assert.deepEqual((await d.monitor.workers()).map((w) => w.id), ['long']);
      await d.monitor.beat(beat('short', 2), 60_000, []);
      assert.equal((await d.monitor.workers()).length, 2, 'it comes back when it beats again');
      assert.equal((await d.monitor.workers()).find((w) => w.id === 'short')?.seq, 2);
    });

    it("counts of many workers add up in each queue's minute buckets and all-time totals", { skip }, async () => {
      const first = await fresh();
      const drivers = await atOnce(first, 4);
      const earlier = NOW_MINUTE - 5 * 60_000;
      await Promise.all(drivers.map(async (d, i) => {
        for (let seq = 1; seq <= 5; seq += 1) {
          await d.monitor.beat(beat(`w${i}`, seq), 10_000, [
            { queue: 'emails', minute: NOW_MINUTE, counts: { completed: 2, run_n: 2, run_ms: 30, run_25: 2 } },
            { queue: 'emails', minute: earlier, counts: { failed: 1 } },
            { queue: 'reports', minute: NOW_MINUTE, counts: { retried: 1, wait_inf: 1 } },
          ]);
        }
      }));
      assert.deepEqual(counts(await first.monitor.metrics({ since: earlier, queue: 'emails' })), [
        { queue: 'emails', minute: earlier, counts: { failed: 20 } },
        { queue: 'emails', minute: NOW_MINUTE, counts: { completed: 40, run_n: 40, run_ms: 600, run_25: 40 } },
      ]);
      assert.deepEqual(counts(await first.monitor.metrics({ since: NOW_MINUTE + 30_000 })), [
        { queue: 'emails', minute: NOW_MINUTE, counts: { completed: 40, run_n: 40, run_ms: 600, run_25: 40 } },
        { queue: 'reports', minute: NOW_MINUTE, counts: { retried: 20, wait_inf: 20 } },
      ], 'from the minute of `since`, every queue');
      assert.deepEqual(counts(await first.monitor.totals()), [
        { queue: 'emails', minute: 0, counts: { completed: 40, run_n: 40, run_ms: 600, run_25: 40, failed: 20 } },
        { queue: 'reports', minute: 0, counts: { retried: 20, wait_inf: 20 } },
      ]);
      assert.deepEqual(counts(await first.monitor.totals({ queue: 'reports' })), [{ queue: 'reports', minute: 0, counts: { retried: 20, wait_inf: 20 } }]);
      assert.deepEqual(await first.monitor.metrics({ since: NOW_MINUTE, queue: 'nothing-here' }), []);
    });

    it('a beat sent again (the same seq, or an older one) counts nothing twice', { skip }, async () => {
      const d = await fresh();
      const metrics: MetricBucket[] = [{ queue: 'default', minute: NOW_MINUTE, counts: { completed: 3 } }];
      await d.monitor.beat(beat('w1', 7), 10_000, metrics);
      await d.monitor.beat(beat('w1', 7), 10_000, metrics);
      await d.monitor.beat(beat('w1', 6), 10_000, metrics);
      assert.deepEqual(counts(await d.monitor.totals()), [{ queue: 'default', minute: 0, counts: { completed: 3 } }]);
      await d.monitor.beat(beat('w1', 8), 10_000, metrics);
      await d.monitor.beat(beat('w2', 1), 10_000, metrics);
      assert.deepEqual(counts(await d.monitor.metrics({ since: NOW_MINUTE })), [{ queue: 'default', minute: NOW_MINUTE, counts: { completed: 9 } }]);
      assert.equal((await d.monitor.workers()).find((w) => w.id === 'w1')!.seq, 8);

      // A beat with no counts (an idle worker's: one statement on SQL) sent again changes nothing either.
      await d.monitor.beat(beat('w1', 9, { jobsDone: 90 }), 10_000, []);
      await d.monitor.beat(beat('w1', 9, { jobsDone: 999 }), 10_000, []);
      await d.monitor.beat(beat('w1', 8, { jobsDone: 998 }), 10_000, []);
      const w1 = (await d.monitor.workers()).find((w) => w.id === 'w1')!;
      assert.deepEqual([w1.seq, w1.jobsDone], [9, 90]);
    });

    it('minute buckets older than a day are dropped; the totals keep them', { skip }, async () => {
      const d = await fresh();
      const old = minuteOf(Date.now() - METRIC_KEEP_MS - 10 * 60_000);
      const recent = minuteOf(Date.now() - METRIC_KEEP_MS + 10 * 60_000);
      await d.monitor.beat(beat('w1', 1), 10_000, [
        { queue: 'default', minute: old, counts: { completed: 1 } },
        { queue: 'default', minute: recent, counts: { completed: 2 } },
      ]);
      await d.monitor.beat(beat('w1', 2), 10_000, [{ queue: 'default', minute: NOW_MINUTE, counts: { completed: 4 } }]);
      assert.deepEqual((await d.monitor.metrics({ since: old - 60_000 })).map((b) => [b.minute, b.counts.completed]), [[recent, 2], [NOW_MINUTE, 4]]);
      assert.deepEqual(counts(await d.monitor.totals()), [{ queue: 'default', minute: 0, counts: { completed: 7 } }]);
    });

    it('the oldest ready job: when the job waiting longest among those next in line became ready', { skip }, async () => {
      const d = await fresh();
      assert.equal(await d.monitor.oldestReady('default'), null);
      await d.push([job('default', { delayMs: 60_000 })]);
      assert.equal(await d.monitor.oldestReady('default'), null, 'a delayed job is not ready');
      const before = Date.now();
      const first = job('default');
      await d.push([first]);
      await sleep(30);
      await d.push([job('default')]);
      const oldest = await d.monitor.oldestReady('default');
      assert.ok(oldest !== null && oldest >= before - 1_000 && oldest <= before + 25, `${oldest} is when the first was pushed (${before})`);
      await d.reserve(['default'], { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 1_000 });
      const next = await d.monitor.oldestReady('default');
      assert.ok(next !== null && next >= before + 25, 'the first one runs: the second is next');
      assert.equal(await d.monitor.oldestReady('other'), null);
    });
  });
}
