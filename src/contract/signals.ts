/**
 * The worker signals every backend keeps, by one set of names: `queue restart` stamps `restart`
 * with the backend's clock, and `queue pause <queue>` stamps `paused:<queue>`.
 */
import type { WorkerSignals } from './driver.ts';

export const RESTART_SIGNAL = 'restart';
const PAUSED_PREFIX = 'paused:';

export function pausedSignal(queue: string): string {
  return PAUSED_PREFIX + queue;
}

/** The signals, from the stored (name, value) pairs and the backend's clock when they were read. */
export function workerSignals(stored: Iterable<[name: string, value: number]>, now: number): WorkerSignals {
  let restartRequestedAt: number | null = null;
  const paused: string[] = [];
  for (const [name, value] of stored) {
    if (name === RESTART_SIGNAL) restartRequestedAt = value;
    else if (name.startsWith(PAUSED_PREFIX)) paused.push(name.slice(PAUSED_PREFIX.length));
  }
  return { now, restartRequestedAt, paused: paused.sort() };
}
