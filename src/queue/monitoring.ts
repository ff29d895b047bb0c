/**
 * Seeing a connection run (SPEC 15), for the CLI, the dashboard and application code: its live
 * workers, its queues' figures over the last hour or day (queue/metrics.ts), the same in
 * Prometheus text, and the thresholds `queue monitor` checks.
 */
import type { Driver, QueueStats, WorkerInfo } from '../contract/driver.ts';
import { minuteOf } from '../contract/metrics.ts';
import { QueueError } from '../errors.ts';
import type { QueueManager } from './manager.ts';
import { queueMetrics, type QueueMetrics } from './metrics.ts';

export type { QueueMetrics, Percentiles, SeriesPoint } from './metrics.ts';
export type { WorkerInfo } from '../contract/driver.ts';

/** The windows figures are read over, and the step of their series. */
export const WINDOWS = {
  hour: { ms: 3_600_000, stepMs: 60_000 },
  day: { ms: 24 * 3_600_000, stepMs: 15 * 60_000 },
} as const;

export type MetricsWindow = keyof typeof WINDOWS;

export async function listWorkers(manager: QueueManager, connection?: string): Promise<WorkerInfo[]> {
  return (await manager.driver(connection)).monitor.workers();
}

/** Each queue's figures over the last hour or day (of one queue when `queue` is given). */
export async function readMetrics(manager: QueueManager, options: { connection?: string; queue?: string; window?: MetricsWindow } = {}): Promise<QueueMetrics[]> {
  const driver = await manager.driver(options.connection);
  const window = WINDOWS[options.window ?? 'hour'];
  const now = Date.now();
  // Whole steps, the current one last (still filling).
  const to = minuteOf(now) - (minuteOf(now) % window.stepMs) + window.stepMs;
  const from = to - window.ms;
  const [buckets, stats] = await Promise.all([driver.monitor.metrics({ since: from, queue: options.queue }), driver.stats()]);
  const mine = options.queue === undefined ? stats : stats.filter((s) => s.queue === options.queue);
  const oldest = await oldestReady(driver, mine);
  const figures = queueMetrics(buckets, mine, oldest, { from, to, stepMs: window.stepMs, now });
  if (options.queue !== undefined && figures.length === 0) return queueMetrics([], [{ queue: options.queue, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 }], oldest, { from, to, stepMs: window.stepMs, now });
  return figures;
}

/** When the oldest ready job of each queue that has ready jobs became ready. */
export async function oldestReady(driver: Driver, stats: QueueStats[]): Promise<Map<string, number | null>> {
  const ready = stats.filter((s) => s.ready > 0).map((s) => s.queue);
  return new Map(await Promise.all(ready.map(async (queue) => [queue, await driver.monitor.oldestReady(queue)] as const)));
}

/** What `queue monitor` may be asked to check. */
export interface Thresholds {
  queues: string[];
  /** Most jobs waiting (ready and delayed). */
  maxSize?: number;
  /** Most seconds the oldest ready job may have waited. */
  maxWait?: number;
  /** Most jobs failed for good within the last minute. */
  maxFailedPerMinute?: number;
}

/** One threshold passed: which queue, and a line that says it. */
export interface Breach {
  queue: string;
  threshold: 'max-size' | 'max-wait' | 'max-failed-per-minute';
  message: string;
}

/** The thresholds passed now; none: all is well. */
export async function checkThresholds(manager: QueueManager, thresholds: Thresholds, connection?: string): Promise<Breach[]> {
  if (thresholds.maxSize === undefined && thresholds.maxWait === undefined && thresholds.maxFailedPerMinute === undefined) {
    throw new QueueError('INVALID_ARGUMENT', 'name at least one threshold: --max-size, --max-wait or --max-failed-per-minute');
  }
  const driver = await manager.driver(connection);
  const now = Date.now();
  const [stats, buckets] = await Promise.all([driver.stats(), driver.monitor.metrics({ since: now - 60_000 })]);
  const breaches: Breach[] = [];
  for (const queue of thresholds.queues) {
    const state = stats.find((s) => s.queue === queue);
    const size = (state?.ready ?? 0) + (state?.delayed ?? 0);
    if (thresholds.maxSize !== undefined && size > thresholds.maxSize) {
      breaches.push({ queue, threshold: 'max-size', message: `queue ${queue} has ${size} jobs waiting, over --max-size ${thresholds.maxSize}` });
    }
    if (thresholds.maxWait !== undefined && (state?.ready ?? 0) > 0) {
      const since = await driver.monitor.oldestReady(queue);
      const waited = since === null ? 0 : (now - since) / 1000;
      if (waited > thresholds.maxWait) {
        breaches.push({ queue, threshold: 'max-wait', message: `queue ${queue}'s oldest ready job has waited ${Math.round(waited)}s, over --max-wait ${thresholds.maxWait}` });
      }
    }
    if (thresholds.maxFailedPerMinute !== undefined) {
      // The last 60 s: all of this minute's bucket so far, and the share of the one before that falls inside.
      const failed = buckets.filter((b) => b.queue === queue && b.minute > now - 120_000).reduce((sum, b) => {
        const end = Math.min(b.minute + 60_000, now);
        const share = end <= b.minute ? 1 : (end - Math.max(b.minute, now - 60_000)) / (end - b.minute);
        return sum + (b.counts.failed ?? 0) * Math.max(0, Math.min(1, share));
      }, 0);
      const rounded = Math.round(failed);
      if (rounded > thresholds.maxFailedPerMinute) {
        breaches.push({ queue, threshold: 'max-failed-per-minute', message: `queue ${queue} had ${rounded} jobs fail in the last minute, over --max-failed-per-minute ${thresholds.maxFailedPerMinute}` });
      }
    }
  }
  return breaches;
}
