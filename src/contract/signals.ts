/**
 * The worker signals every backend keeps, by one set of names: `queue restart` stamps `restart`
 * with the backend's clock, `queue pause <queue>` stamps `paused:<queue>`, and the cancel of a running
 * job stamps `cancel:<id>`.
 */
import type { WorkerSignals } from './driver.ts';

export const RESTART_SIGNAL = 'restart';
const PAUSED_PREFIX = 'paused:';
const CANCEL_PREFIX = 'cancel:';

export function pausedSignal(queue: string): string {
  return PAUSED_PREFIX + queue;
}

/** The request to cancel a running job (Records.cancel), cleared when its worker has cancelled it. */
export function cancelSignal(id: string): string {
  return CANCEL_PREFIX + id;
}

/** The signals, from the stored (name, value) pairs and the backend's clock when they were read. */
export function workerSignals(stored: Iterable<[name: string, value: number]>, now: number): WorkerSignals {
  let restartRequestedAt: number | null = null;
  const paused: string[] = [];
  const cancelRequested: string[] = [];
  for (const [name, value] of stored) {
    if (name === RESTART_SIGNAL) restartRequestedAt = value;
    else if (name.startsWith(PAUSED_PREFIX)) paused.push(name.slice(PAUSED_PREFIX.length));
    else if (name.startsWith(CANCEL_PREFIX)) cancelRequested.push(name.slice(CANCEL_PREFIX.length));
  }
  return { now, restartRequestedAt, paused: paused.sort(), cancelRequested };
}
