/** What every driver's job records share: the state of an unfinished job, and a failure as a record. */
import { QueueError } from '../errors.ts';
import { DEFAULT_KEEP } from '../jobs/settings.ts';
import type { FailedJob, JobRecord, JobState, Keeping } from './driver.ts';

/** The page size of list() when none is asked for. */
export const DEFAULT_PAGE = 50;

/** How a finished record is kept when the caller names no keeping: the default retention (an hour, the newest 1,000 per queue and state). */
export const DEFAULT_KEEPING: Keeping = { keepMs: DEFAULT_KEEP.completed * 1000, maxPerQueue: DEFAULT_KEEP.count };

/**
 * The state of a stored, unfinished job at `now`: reserved while a lease holds it; once its lease
 * has run out it is ready again (the next claim takes it); delayed until its time.
 */
export function waitingState(leased: boolean, availableAt: number, now: number): JobState {
  if (availableAt > now) return leased ? 'reserved' : 'delayed';
  return 'ready';
}

/** A failed record as the `failed` state's record: its attempts are the envelope's, when it has one. */
export function failedJobRecord(failed: FailedJob): JobRecord {
  return {
    id: failed.id,
    queue: failed.queue,
    connection: failed.connection,
    state: 'failed',
    payload: failed.payload,
    attempts: attemptsIn(failed.payload),
    result: null,
    error: failed.error,
    progress: null,
    availableAt: null,
    startedAt: null,
    finishedAt: failed.failedAt,
  };
}

function attemptsIn(payload: string): number {
  try {
    const attempts = (JSON.parse(payload) as { attempts?: unknown }).attempts;
    return typeof attempts === 'number' ? attempts : 0;
  } catch {
    return 0;
  }
}

/** A page's limit: a whole number from 1 to 1,000. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new QueueError('INVALID_ARGUMENT', `limit must be a whole number from 1 to 1000, got ${limit}`);
  return limit;
}

/** A cursor that is not one this driver handed out. */
export function badCursor(cursor: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', `'${cursor}' is not a cursor from a previous page of this list`);
}
