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

/**
 * Where each field sits in a tally's array of counts: the three outcomes, then per histogram its
 * count, its sum and one slot per bucket (the last past every bound).
 */
const OUTCOMES = ['completed', 'failed', 'retried'] as const;
const HISTOGRAM_FIELDS = ['n', 'ms', ...HISTOGRAM_BOUNDS_MS.map(String), 'inf'];
const SLOTS: Record<Histogram, number> = { wait: OUTCOMES.length, run: OUTCOMES.length + HISTOGRAM_FIELDS.length };
const FIELDS = [...OUTCOMES, ...HISTOGRAM_FIELDS.map((f) => `wait_${f}`), ...HISTOGRAM_FIELDS.map((f) => `run_${f}`)];

/** One queue's counts of one minute, as they are gathered. */
interface Gathering {
  queue: string;
  minute: number;
  counts: Float64Array;
}

/**
 * A worker's counts since its last heartbeat, by queue and minute (its own clock). Counting is a
 * few additions to an array of numbers (a worker at tens of thousands of jobs a second must not
 * feel it: no string is built per job); drain() names the fields and starts afresh.
 */
export class MetricTally {
  private gathered: Gathering[] = [];
  /** The newest gathering of each queue: the one almost every count goes to. */
  private current = new Map<string, Gathering>();

  /** A job done (`completed`), failed for good (`failed`) or released to try again (`retried`) after running `runMs`. */
  finished(queue: string, outcome: 'completed' | 'failed' | 'retried', runMs: number, at = Date.now()): void {
    const counts = this.counts(queue, at);
    counts[OUTCOMES.indexOf(outcome)]! += 1;
    observe(counts, SLOTS.run, runMs);
  }

  /** A job's first try started `waitMs` after it was due. */
  waited(queue: string, waitMs: number, at = Date.now()): void {
    observe(this.counts(queue, at), SLOTS.wait, Math.max(0, waitMs));
  }

  /** The counts so far, oldest minute first, by their field names (none that are 0); the tally starts again from nothing. */
  drain(): MetricBucket[] {
    const buckets = this.gathered.sort((a, b) => a.minute - b.minute).map(({ queue, minute, counts }) => {
      const named: Record<string, number> = {};
      counts.forEach((value, slot) => {
        if (value !== 0) named[FIELDS[slot]!] = value;
      });
      return { queue, minute, counts: named };
    });
    this.gathered = [];
    this.current = new Map();
    return buckets;
  }

  private counts(queue: string, at: number): Float64Array {
    const minute = minuteOf(at);
    let gathering = this.current.get(queue);
    if (gathering?.minute !== minute) {
      // A new minute (or a count of an earlier one, from a clock that stepped back).
      gathering = this.gathered.find((g) => g.queue === queue && g.minute === minute);
      if (!gathering) this.gathered.push((gathering = { queue, minute, counts: new Float64Array(FIELDS.length) }));
      this.current.set(queue, gathering);
    }
    return gathering.counts;
  }
}

/** Counts `ms` in the histogram whose slots start at `first`. */
function observe(counts: Float64Array, first: number, ms: number): void {
  const rounded = Math.round(ms);
  counts[first]! += 1;
  counts[first + 1]! += rounded;
  let bucket = 0;
  while (bucket < HISTOGRAM_BOUNDS_MS.length && rounded > HISTOGRAM_BOUNDS_MS[bucket]!) bucket += 1;
  counts[first + 2 + bucket]! += 1;
}

/** The start of the minute `at` falls in. */
export function minuteOf(at: number): number {
  return at - (at % 60_000);
}
