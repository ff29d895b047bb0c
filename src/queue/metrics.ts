/**
 * What the per-minute buckets on the backend (contract/metrics.ts) say, read for people and for
 * Prometheus: per queue, jobs completed, failed and retried over a window, their rate, wait and run
 * time percentiles (from the histogram buckets, interpolated inside a bucket), a series per step
 * for charts, and the queue's counts by state and the age of its oldest ready job now.
 */
import { HISTOGRAM_BOUNDS_MS, type Histogram } from '../contract/metrics.ts';
import type { MetricBucket, QueueStats } from '../contract/driver.ts';

export interface Percentiles {
  /** How many were measured. */
  count: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** One step of a series: counts from `at` (ms) for one step. */
export interface SeriesPoint {
  at: number;
  completed: number;
  failed: number;
  retried: number;
  /** The median wait of the jobs that started in it, ms (null: none did). */
  waitP50Ms: number | null;
}

export interface QueueMetrics {
  queue: string;
  /** Jobs by state now. */
  counts: Omit<QueueStats, 'queue'>;
  /** How long the job waiting longest among those next in line has been ready, ms (null: none is ready). */
  oldestReadyMs: number | null;
  /** Over the window: */
  completed: number;
  failed: number;
  retried: number;
  /** Jobs completed per minute, averaged over the window. */
  perMinute: number;
  wait: Percentiles | null;
  run: Percentiles | null;
  series: SeriesPoint[];
}

/** Adds bucket counts up into one set of counts. */
export function sumCounts(buckets: Iterable<MetricBucket>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const bucket of buckets) for (const [field, value] of Object.entries(bucket.counts)) sum[field] = (sum[field] ?? 0) + value;
  return sum;
}

/** The percentiles of one histogram in a set of counts; null when it measured nothing. */
export function percentiles(counts: Record<string, number>, histogram: Histogram): Percentiles | null {
  const count = counts[`${histogram}_n`] ?? 0;
  if (count === 0) return null;
  return {
    count,
    avgMs: Math.round((counts[`${histogram}_ms`] ?? 0) / count),
    p50Ms: quantile(counts, histogram, 0.5),
    p95Ms: quantile(counts, histogram, 0.95),
    p99Ms: quantile(counts, histogram, 0.99),
  };
}

/**
 * The value below which a fraction `q` of the measurements fall: found in its bucket and placed
 * linearly inside it (as Prometheus's histogram_quantile does); past the last bound, that bound.
 */
function quantile(counts: Record<string, number>, histogram: Histogram, q: number): number {
  const total = counts[`${histogram}_n`] ?? 0;
  const rank = q * total;
  let below = 0;
  let lower = 0;
  for (const bound of HISTOGRAM_BOUNDS_MS) {
    const inBucket = counts[`${histogram}_${bound}`] ?? 0;
    if (below + inBucket >= rank && inBucket > 0) return Math.round(lower + ((bound - lower) * (rank - below)) / inBucket);
    below += inBucket;
    lower = bound;
  }
  return lower;
}

/**
 * Each queue's figures over [from, to): its buckets of that window, its counts by state now, and
 * its oldest ready job. Queues appear if they have jobs or counts in the window.
 */
export function queueMetrics(
  buckets: MetricBucket[],
  stats: QueueStats[],
  oldestReady: Map<string, number | null>,
  window: { from: number; to: number; stepMs: number; now: number },
): QueueMetrics[] {
  const names = new Set([...stats.map((s) => s.queue), ...buckets.map((b) => b.queue)]);
  return [...names].sort().map((queue) => {
    const mine = buckets.filter((b) => b.queue === queue && b.minute >= window.from && b.minute < window.to);
    const sum = sumCounts(mine);
    const state = stats.find((s) => s.queue === queue);
    const oldest = oldestReady.get(queue) ?? null;
    const minutes = Math.max(1, (window.to - window.from) / 60_000);
    return {
      queue,
      counts: { ready: state?.ready ?? 0, delayed: state?.delayed ?? 0, reserved: state?.reserved ?? 0, failed: state?.failed ?? 0, completed: state?.completed ?? 0, cancelled: state?.cancelled ?? 0 },
      oldestReadyMs: oldest === null ? null : Math.max(0, window.now - oldest),
      completed: sum.completed ?? 0,
      failed: sum.failed ?? 0,
      retried: sum.retried ?? 0,
      perMinute: Math.round(((sum.completed ?? 0) / minutes) * 10) / 10,
      wait: percentiles(sum, 'wait'),
      run: percentiles(sum, 'run'),
      series: series(mine, window),
    };
  });
}

/** One point per step of the window, with nothing where no bucket fell. */
function series(buckets: MetricBucket[], window: { from: number; to: number; stepMs: number }): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let at = window.from; at < window.to; at += window.stepMs) {
    const sum = sumCounts(buckets.filter((b) => b.minute >= at && b.minute < at + window.stepMs));
    points.push({ at, completed: sum.completed ?? 0, failed: sum.failed ?? 0, retried: sum.retried ?? 0, waitP50Ms: percentiles(sum, 'wait')?.p50Ms ?? null });
  }
  return points;
}
