/** A job as the driver contract stores it (driver.ts): its encoded envelope and what the backend indexes. */
import { LIMITS, type UniqueHold } from '../jobs/settings.ts';

/** A job ready to be stored: the encoded envelope plus what the backend indexes. */
export interface StoredJob {
  id: string;
  queue: string;
  payload: string;
  /** Milliseconds from now before the job may be reserved (0: at once). */
  delayMs: number;
  /** The job's own timeout in ms, or null for the worker's default; sizes the lease. */
  timeoutMs: number | null;
  /**
   * Higher runs first (default 0), FIFO within one priority; a whole number within PRIORITY_LIMIT.
   * The order of the queues a worker names still comes first.
   */
  priority?: number;
  /**
   * Milliseconds from now after which the job, if no try of it has started, never runs: it ends
   * `expired` instead (its delay is not counted in: the caller adds it). Absent: never.
   */
  expireInMs?: number;
  /** A unique job's hold on its key (SPEC 12), taken in the push itself. */
  unique?: UniqueHold;
}

/** Priorities are whole numbers from -PRIORITY_LIMIT to PRIORITY_LIMIT. */
export const PRIORITY_LIMIT = LIMITS.priority;

export type { UniqueHold };

/** What push() did with one job. */
export interface Pushed {
  /** The job's own id when stored; for a duplicate, the id of the job that holds its key. */
  id: string;
  duplicate: boolean;
  /** The not-started holder this job replaced (`unique.replace`): it is gone, leaving no record. */
  replaced?: string;
}
