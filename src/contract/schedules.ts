/** The schedules' part of the driver contract (driver.ts): each schedule's cursor, and the schedules kept on the backend. */
import type { StoredJob } from './stored.ts';

/** Where a schedule's cursor lives: its name and the queue its jobs go to (Redis keeps it in that queue's slot). */
export interface ScheduleCursor {
  name: string;
  queue: string;
}

/** A schedule's cursor on the backend. Times are ms since the epoch. */
export interface ScheduleState {
  name: string;
  /** The occurrence the schedule was last moved on to (fired or skipped); null: none yet. */
  lastAt: number | null;
  /** When the last fired occurrence's job was stored, by the backend's clock; null: none yet. */
  firedAt: number | null;
}

/** What the backend keeps of a schedule beside its cursor: its definition when added at run time, and whether it is paused. */
export interface ScheduleSetting {
  name: string;
  /** The definition of a schedule added at run time (JSON, the API's to read), or null for one in code. */
  definition: string | null;
  paused: boolean;
}

/**
 * Recurring jobs' state (SPEC 12): each schedule's cursor, moved on by one worker per occurrence
 * however many run, with the occurrence's job stored in the same atomic step; and the schedules
 * added at run time, and which are paused.
 */
export interface ScheduleStore {
  /**
   * Moves the schedule's cursor on to occurrence `at` and stores `job` (none: the occurrence is
   * skipped), atomically, unless the cursor is at `at` or later already (another worker moved it,
   * or this call was sent twice): then nothing changes. A schedule without a cursor gets one. True
   * when this call moved it. The job goes through push(): a unique job's rule applies.
   */
  advance(cursor: ScheduleCursor, at: number, job: StoredJob | null): Promise<boolean>;
  /** The cursors of these schedules (those never moved: lastAt null). */
  states(cursors: ScheduleCursor[]): Promise<ScheduleState[]>;
  /** Every schedule added at run time or paused. */
  settings(): Promise<ScheduleSetting[]>;
  /** Adds or replaces a schedule added at run time. */
  define(name: string, definition: string): Promise<void>;
  /** Removes a schedule added at run time, and its pause; false when there was none by that name. */
  undefine(name: string): Promise<boolean>;
  pause(name: string, paused: boolean): Promise<void>;
}
