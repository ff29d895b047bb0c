/**
 * What a worker counts and says of itself (SPEC 15), and how the counts read: the tally, the
 * percentiles drawn from histogram buckets, the per-queue figures, the Prometheus text, and a
 * worker on the in-memory driver that beats, hands its counts over and leaves when it stops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricBucket } from '../../src/contract/driver.ts';
import { MetricTally, minuteOf } from '../../src/contract/metrics.ts';
import { percentiles, queueMetrics, sumCounts } from '../../src/queue/metrics.ts';
import { prometheusText } from '../../src/queue/prometheus.ts';
import { Heartbeat } from '../../src/worker/heartbeat.ts';
import { stopReason } from '../../src/worker/stop.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { silent, stored, worker } from '../helpers/in-process.ts';

const MINUTE = minuteOf(Date.UTC(2026, 11, 6, 9, 30));

describe('metric counts', () => {
  it('a tally counts per queue and minute, and drains once', () => {
    const tally = new MetricTally();
    tally.finished('emails', 'completed', 12.4, MINUTE + 1_000);
    tally.finished('emails', 'completed', 700, MINUTE + 2_000);
    tally.finished('emails', 'failed', 3, MINUTE + 61_000);
    tally.waited('emails', 40, MINUTE + 3_000);
    tally.waited('reports', -5, MINUTE + 3_000);
    const drained = tally.drain();
    assert.deepEqual(drained, [
      { queue: 'emails', minute: MINUTE, counts: { completed: 2, run_n: 2, run_ms: 712, run_25: 1, run_1000: 1, wait_n: 1, wait_ms: 40, wait_50: 1 } },
      { queue: 'reports', minute: MINUTE, counts: { wait_n: 1, wait_5: 1 } },
      { queue: 'emails', minute: MINUTE + 60_000, counts: { failed: 1, run_n: 1, run_ms: 3, run_5: 1 } },
    ]);
    assert.deepEqual(tally.drain(), []);
  });

  it('a value on a bound falls in that bound; past the last, in inf', () => {
    const tally = new MetricTally();
    for (const ms of [0, 5, 6, 3_600_000, 3_600_001]) tally.finished('q', 'completed', ms, MINUTE);
    assert.deepEqual(tally.drain()[0]!.counts, { completed: 5, run_n: 5, run_ms: 7_200_012, run_5: 2, run_10: 1, run_3600000: 1, run_inf: 1 });
  });

  it('percentiles are placed inside their bucket, as histogram_quantile does', () => {
    // 100 runs: 50 of at most 10 ms, 45 of 10-25 ms, 5 of 1-2.5 s.
    const counts = { run_n: 100, run_ms: 10_000, run_10: 50, run_25: 45, run_2500: 5 };
    assert.deepEqual(percentiles(counts, 'run'), { count: 100, avgMs: 100, p50Ms: 10, p95Ms: 25, p99Ms: 2_200 });
    assert.equal(percentiles(counts, 'wait'), null, 'nothing measured');
    assert.equal(percentiles({ wait_n: 2, wait_ms: 8e6, wait_inf: 2 }, 'wait')!.p99Ms, 3_600_000, 'past the last bound: that bound');
  });

  it("per queue: the window's counts and rate, counts by state, the oldest ready job's age, and a series per step", () => {
    const buckets: MetricBucket[] = [
      { queue: 'emails', minute: MINUTE, counts: { completed: 30, failed: 1, wait_n: 30, wait_ms: 300, wait_10: 30 } },
      { queue: 'emails', minute: MINUTE + 60_000, counts: { completed: 30, retried: 2 } },
      { queue: 'emails', minute: MINUTE - 3_600_000, counts: { completed: 999 } },
      { queue: 'reports', minute: MINUTE, counts: { completed: 1 } },
    ];
    const stats = [{ queue: 'emails', ready: 3, delayed: 1, reserved: 2, failed: 4, completed: 60, cancelled: 0 }];
    const now = MINUTE + 120_000;
    const [emails, reports] = queueMetrics(buckets, stats, new Map([['emails', now - 7_000]]), { from: MINUTE, to: MINUTE + 180_000, stepMs: 60_000, now });
    assert.deepEqual({ ...emails!, series: undefined, wait: undefined }, {
      queue: 'emails', counts: { ready: 3, delayed: 1, reserved: 2, failed: 4, completed: 60, cancelled: 0 }, oldestReadyMs: 7_000,
      completed: 60, failed: 1, retried: 2, perMinute: 20, run: null, series: undefined, wait: undefined,
    });
    assert.equal(emails!.wait!.p50Ms, 8, "30 waits of 5-10 ms: the median halfway");
    assert.deepEqual(emails!.series.map((p) => [p.completed, p.retried, p.waitP50Ms]), [[30, 0, 8], [30, 2, null], [0, 0, null]]);
    assert.deepEqual([reports!.queue, reports!.completed, reports!.counts.ready, reports!.oldestReadyMs], ['reports', 1, 0, null], 'a queue with counts but no jobs now');
    assert.deepEqual(sumCounts(buckets.slice(0, 2)), { completed: 60, failed: 1, retried: 2, wait_n: 30, wait_ms: 300, wait_10: 30 });
  });
});

describe('Prometheus text', () => {
  it('counters and histograms from the totals, gauges now; names, labels and escapes as Prometheus has them', async () => {
    const driver = new MemoryDriver();
    await driver.push([stored('Quick', {}, 'em"ails')]);
    await driver.monitor.beat({ id: 'w', name: 'w', host: 'h', pid: 1, queues: [], concurrency: 1, running: [], startedAt: 0, jobsDone: 0, rssBytes: 0, seq: 1 }, 10_000, [
      { queue: 'em"ails', minute: minuteOf(Date.now()), counts: { completed: 3, run_n: 3, run_ms: 1_500, run_10: 2, run_2500: 1 } },
    ]);
    const text = await prometheusText(driver);
    const lines = text.split('\n');
    for (const line of [
      '# TYPE queue_jobs_completed_total counter',
      'queue_jobs_completed_total{connection="memory",queue="em\\"ails"} 3',
      'queue_jobs_failed_total{connection="memory",queue="em\\"ails"} 0',
      '# TYPE queue_job_run_seconds histogram',
      'queue_job_run_seconds_bucket{connection="memory",queue="em\\"ails",le="0.005"} 0',
      'queue_job_run_seconds_bucket{connection="memory",queue="em\\"ails",le="0.01"} 2',
      'queue_job_run_seconds_bucket{connection="memory",queue="em\\"ails",le="2.5"} 3',
      'queue_job_run_seconds_bucket{connection="memory",queue="em\\"ails",le="+Inf"} 3',
      'queue_job_run_seconds_sum{connection="memory",queue="em\\"ails"} 1.500',
      'queue_job_run_seconds_count{connection="memory",queue="em\\"ails"} 3',
      'queue_jobs{connection="memory",queue="em\\"ails",state="ready"} 1',
      'queue_workers{connection="memory"} 1',
    ]) assert.ok(lines.includes(line), `has ${line}\n${text}`);
    assert.ok(lines.some((line) => /^queue_oldest_ready_job_age_seconds\{connection="memory",queue="em\\"ails"\} \d/.test(line)));
    assert.ok(text.endsWith('\n'));
  });
});

describe("a worker's heartbeat", () => {
  it('beats once it has reached the backend, hands over its counts, and leaves the list when it stops', async () => {
    const driver = new MemoryDriver();
    await driver.push([stored('Quick'), stored('Quick'), stored('Flaky', {}, 'default', { maxTries: 1 })]);
    const w = worker(driver, { stopWhenEmpty: false, name: 'billing-1' });
    const running = w.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [listed] = await driver.monitor.workers();
    assert.deepEqual([listed?.name, listed?.queues, listed?.concurrency, listed?.pid], ['billing-1', ['default'], 1, process.pid]);
    w.stop(stopReason('signal', 'test'));
    await running;
    assert.deepEqual(await driver.monitor.workers(), [], 'gone at once, not after its lease');
    const [totals] = await driver.monitor.totals();
    assert.deepEqual([totals?.counts.completed, totals?.counts.failed, totals?.counts.run_n, totals?.counts.wait_n], [2, 1, 3, 3], 'the last beat carried every count');
  });

  it('a beat whose delivery failed is sent again as it was: its counts land once, whether it had landed or not', async () => {
    for (const failure of ['answer lost', 'not sent'] as const) {
      const driver = new MemoryDriver();
      const heartbeat = new Heartbeat(driver, { queues: ['default'], concurrency: 1 }, { running: () => [], jobsDone: () => 0, rssBytes: () => 0 }, silent);
      if (failure === 'not sent') driver.failNext(1);
      else {
        const beat = driver.monitor.beat;
        let lostAnswers = 1;
        driver.monitor.beat = async (...args) => {
          await beat(...args);
          if (lostAnswers-- > 0) throw new Error('connection lost before the answer came');
        };
      }
      heartbeat.tally.finished('default', 'completed', 1);
      heartbeat.start();
      await new Promise((resolve) => setTimeout(resolve, 20));
      heartbeat.tally.finished('default', 'completed', 1);
      await heartbeat.stop(); // the first beat again, then one with the second count
      const [totals] = await driver.monitor.totals();
      assert.equal(totals?.counts.completed, 2, failure);
    }
  });
});
