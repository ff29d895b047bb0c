/**
 * What a worker counts per queue and minute, and how the counts are named on the backend
 * (MetricBucket.counts): jobs completed, failed and retried, and two histograms, of the wait
 * (from dispatch, or the end of its delay, to the start of its first try) and of the run time.
 * A histogram is kept as a count per bucket (not cumulative), their sum in ms and their count, so
 * buckets of many workers and minutes add up by plain addition.
 *
 *   completed failed retried           jobs
 *   wait_n wait_ms wait_<le>  wait_inf  the waits: count, sum (ms), per bucket of upper bound <le> ms
 *   run_n  run_ms  run_<le>   run_inf   the same for run times
 */
import type { MetricBucket } from './monitoring.ts';

/** Upper bounds of the histogram buckets, ms: roughly 1, 2.5, 5 per decade, from 5 ms to an hour. */
export const HISTOGRAM_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000] as const;

export type Histogram = 'wait' | 'run';

/** The field of the bucket `ms` falls in. */
export function bucketField(histogram: Histogram, ms: number): string {
  for (const bound of HISTOGRAM_BOUNDS_MS) if (ms <= bound) return `${histogram}_${bound}`;
  return `${histogram}_inf`;
}

/** One queue's counts being gathered for one minute. */
type Counts = Record<string, number>;

/**
 * A worker's counts since its last heartbeat, by queue and minute (its own clock). Counting is a
 * few additions in memory; drain() hands them over and starts afresh.
 */
export class MetricTally {
  private byKey = new Map<string, MetricBucket>();

  /** A job done (`completed`), failed for good (`failed`) or released to try again (`retried`) after running `runMs`. */
  finished(queue: string, outcome: 'completed' | 'failed' | 'retried', runMs: number, at = Date.now()): void {
    const counts = this.counts(queue, at);
    add(counts, outcome, 1);
    this.observe(counts, 'run', runMs);
  }

  /** A job's first try started `waitMs` after it was due. */
  waited(queue: string, waitMs: number, at = Date.now()): void {
    this.observe(this.counts(queue, at), 'wait', Math.max(0, waitMs));
  }

  /** The counts so far, oldest minute first; the tally starts again from nothing. */
  drain(): MetricBucket[] {
    const buckets = [...this.byKey.values()].sort((a, b) => a.minute - b.minute);
    this.byKey = new Map();
    return buckets;
  }

  private observe(counts: Counts, histogram: Histogram, ms: number): void {
    const rounded = Math.round(ms);
    add(counts, `${histogram}_n`, 1);
    add(counts, `${histogram}_ms`, rounded);
    add(counts, bucketField(histogram, rounded), 1);
  }

  private counts(queue: string, at: number): Counts {
    const minute = minuteOf(at);
    const key = `${minute}:${queue}`;
    let bucket = this.byKey.get(key);
    if (!bucket) this.byKey.set(key, (bucket = { queue, minute, counts: {} }));
    return bucket.counts;
  }
}

function add(counts: Counts, field: string, value: number): void {
  counts[field] = (counts[field] ?? 0) + value;
}

/** The start of the minute `at` falls in. */
export function minuteOf(at: number): number {
  return at - (at % 60_000);
}
