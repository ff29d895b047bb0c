/**
 * The driver contract: the one small interface every storage backend implements. Everything that
 * is backend-specific stays behind it; the worker, the CLI and the contract test suite only ever
 * see these types. Every time in it is in milliseconds.
 *
 * Delivery is at-least-once. reserve() hands out leases that expire at now + timeout + margin;
 * a reservation carries an ownership token, and ack/release/fail by a holder whose lease was taken
 * over change nothing and return false.
 *
 * Every operation that changes state may be applied twice with the same arguments (a client sends
 * it again when a dropped connection lost its answer) and takes effect once: a second push of a job
 * id stores nothing, a second ack, release or fail of one reservation answers as the first did.
 */
import type { MonitorStore } from './monitoring.ts';
import type { ScheduleStore } from './schedules.ts';
import type { Pushed, StoredJob } from './stored.ts';

export { PRIORITY_LIMIT, type Pushed, type StoredJob, type UniqueHold } from './stored.ts';
export { METRIC_KEEP_MS, type MetricBucket, type MonitorStore, type WorkerBeat, type WorkerInfo } from './monitoring.ts';
export type { ScheduleCursor, ScheduleSetting, ScheduleState, ScheduleStore } from './schedules.ts';

export interface Reservation {
  /** The backend's handle for the stored job; opaque outside the driver. */
  readonly handle: string;
  readonly queue: string;
  /** The payload as stored: the worker decodes (and may reject) it. */
  readonly payload: string;
  /** How many times the job has been reserved, this time included. */
  readonly attempts: number;
  /** Proves ownership of the lease to ack, release and fail. */
  readonly token: string;
  /** Milliseconds since the epoch, by the backend's clock. */
  readonly leaseExpiresAt: number;
}

export interface ReserveOptions {
  /** The most jobs to hand out (a worker asks for as many as it has free slots). */
  count: number;
  /** Timeout of jobs whose envelope declares none, ms. */
  defaultTimeoutMs: number;
  /** Added to the timeout to make the lease, ms. */
  leaseMarginMs: number;
  /** How to keep the record of a job the claim finds past its expiry (default DEFAULT_KEEPING). */
  keeping?: Keeping;
}

export interface Failure {
  /** The job's id, when the payload had one: it becomes the failed record's id. */
  id: string | null;
  /** What to keep as the record's payload (the envelope with its final attempts, or raw bytes). */
  payload: string;
  /** The registered job name, when the payload named one. */
  job: string | null;
  /** The error: message and stack. */
  error: string;
}

/** A failed record, as every backend keeps and returns it. */
export interface FailedJob extends Omit<Failure, 'id'> {
  id: string;
  connection: string;
  queue: string;
  /** Milliseconds since the epoch. */
  failedAt: number;
}

/**
 * The states of a job's record (SPEC 11). Unfinished: blocked (waits on other jobs), delayed,
 * ready, reserved. Finished: completed, failed, cancelled, expired (not started in time).
 */
export type JobState = 'blocked' | 'delayed' | 'ready' | 'reserved' | 'completed' | 'failed' | 'cancelled' | 'expired';

export const JOB_STATES: readonly JobState[] = ['blocked', 'delayed', 'ready', 'reserved', 'completed', 'failed', 'cancelled', 'expired'];

/** The states a record ends in; only these are ever pruned or cleaned. */
export const FINISHED_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled', 'expired'];

/** A job's record in any state, as every backend returns it. Times are ms since the epoch, by the backend's clock. */
export interface JobRecord {
  id: string;
  queue: string;
  connection: string;
  state: JobState;
  /** The envelope as stored (its attempts as of the last failure), or the raw bytes of a row written by hand. */
  payload: string;
  /** Tries counted so far. */
  attempts: number;
  /** What handle() returned, encoded by the worker (completed jobs), or null. */
  result: string | null;
  /** The last failure's message and stack (failed jobs), or null. */
  error: string | null;
  /** What the job last reported with ctx.progress(), encoded, or null. */
  progress: string | null;
  /** When it may run (delayed, ready) or its lease runs out (reserved); null once finished. */
  availableAt: number | null;
  /** When its last try started, or null. */
  startedAt: number | null;
  /** When it finished, or null. */
  finishedAt: number | null;
}

/** How a finished record is kept: for `keepMs` after it finished, among the newest `maxPerQueue`. */
export interface Keeping {
  /** How long the record is kept once done, ms. */
  keepMs: number;
  /**
   * How many finished records of its queue and state are kept at most: prune() enforces it, and a
   * driver may trim to it in the ack itself (Redis does, so a fast queue never piles up records
   * between prunes).
   */
  maxPerQueue: number;
}

/** How a done job's record is kept, with its result. */
export interface Completion extends Keeping {
  /** What handle() returned, encoded; null for nothing. */
  result: string | null;
}

/**
 * What cancel() did: `cancelled` (it was waiting, and now never starts), `requested` (it runs: its
 * worker aborts it and records it cancelled), `finished` (too late: nothing changed), `unknown`
 * (no job has that id).
 */
export type CancelOutcome = 'cancelled' | 'requested' | 'finished' | 'unknown';

/** The states a record can be cleaned from: the finished ones. */
export type FinishedState = 'completed' | 'failed' | 'cancelled' | 'expired';

/** One done job for ack(): without a completion it leaves no record (a job with `keep: false`). */
export interface Acknowledgement {
  reservation: Reservation;
  completion?: Completion;
}

export interface ListOptions {
  state: JobState;
  queue?: string;
  /** At most this many (default 50). */
  limit?: number;
  /** From where the last page ended (its `cursor`). */
  cursor?: string;
}

export interface RecordPage {
  /** Newest first: by finish time for finished states, by creation (storage order) for the others. */
  records: JobRecord[];
  /** Pass to list() for the next page; absent on the last one. */
  cursor?: string;
}

/** Every job's record, in any state (failed ones are the failed store's records): read, listed and pruned. */
export interface Records {
  /** The job's record in any state, or undefined when no job has that id (or it was pruned). */
  find(id: string): Promise<JobRecord | undefined>;
  /** One state's records, newest first, a page at a time. */
  list(options: ListOptions): Promise<RecordPage>;
  /**
   * Deletes completed, cancelled and expired records whose keep time has run out, and per queue and
   * state those beyond the newest `maxPerQueue`. Never an unfinished job, never a failed record.
   * Ends as `expired` (kept `keepMs`, default DEFAULT_KEEPING's) the waiting jobs past their expiry
   * that no worker claimed. Returns how many records it deleted.
   */
  prune(options: { maxPerQueue: number; keepMs?: number }): Promise<number>;
  /**
   * Cancels a job, atomically. A ready or delayed job is cancelled at once and can never start
   * afterwards; a reserved one has its cancel requested (a `cancel:<id>` worker signal), and its
   * worker aborts it and records it cancelled (Driver.cancelRunning).
   */
  cancel(id: string, keeping: Keeping): Promise<CancelOutcome>;
  /** Deletes the records of one finished state (of one queue, of those finished more than `olderThanMs` ago); returns how many. */
  clean(options: { state: FinishedState; queue?: string; olderThanMs?: number }): Promise<number>;
}

export interface QueueStats {
  queue: string;
  ready: number;
  delayed: number;
  reserved: number;
  failed: number;
  /** Records kept of completed and cancelled jobs. */
  completed: number;
  cancelled: number;
}

/** What workers poll: `queue restart` and `queue pause`. */
export interface WorkerSignals {
  /** The backend's clock when the signals were read (ms since the epoch). */
  now: number;
  /** Milliseconds since the epoch (backend clock) of the last `queue restart`, or null. */
  restartRequestedAt: number | null;
  paused: string[];
  /** Ids of running jobs whose cancel was requested (Records.cancel). */
  cancelRequested: string[];
}

export interface FailedStore {
  /** Newest first. */
  list(options?: { queue?: string; limit?: number }): Promise<FailedJob[]>;
  find(id: string): Promise<FailedJob | undefined>;
  forget(id: string): Promise<boolean>;
  /** Deletes every record, or those that failed more than `olderThanMs` ago (by the backend's clock). */
  flush(options?: { olderThanMs?: number }): Promise<number>;
  /**
   * Puts failed jobs back on their queues with fresh tries, atomically: either every id is moved
   * or none is (an unknown id throws FAILED_JOB_NOT_FOUND). Returns the ids moved.
   */
  retry(ids: string[]): Promise<string[]>;
  /** Retries every failed job (of one queue); returns the ids moved. */
  retryAll(options?: { queue?: string }): Promise<string[]>;
}

export interface Driver {
  readonly connection: string;
  /**
   * Stores jobs: one round trip, all-or-nothing. A job whose id is already stored is skipped (and
   * reported stored: the push ran before). Unique jobs are checked in the same step (UniqueHold).
   * Returns what it did with each job, in order.
   */
  push(jobs: StoredJob[]): Promise<Pushed[]>;
  /**
   * Takes up to `count` jobs from the first of `queues` that has any (a priority list), highest
   * priority first and FIFO within one. A job found past its expiry is not taken: it ends `expired`.
   */
  reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]>;
  /**
   * The job is done: remove it, and with a completion keep its record as `completed`, atomically.
   * False if the lease was lost (a job already gone counts as done).
   */
  ack(reservation: Reservation, completion?: Completion): Promise<boolean>;
  /**
   * Puts the job back, available after `delayMs`. False if the lease was lost. With
   * `refundAttempt` the reservation does not count as a try (the worker gave the job back unfinished).
   */
  release(reservation: Reservation, delayMs: number, options?: { refundAttempt?: boolean }): Promise<boolean>;
  /** Stores the failed record, then removes the job, atomically. False if the lease was lost. */
  fail(reservation: Reservation, failure: Failure): Promise<boolean>;
  /**
   * Ends a reserved job whose cancel was requested: removes it, keeps its `cancelled` record and
   * clears the request, atomically. False if the lease was lost.
   */
  cancelRunning(reservation: Reservation, keeping: Keeping): Promise<boolean>;
  /** Stores what a running job reported with ctx.progress(), encoded; false if the lease was lost. */
  progress(reservation: Reservation, progress: string): Promise<boolean>;
  /** Jobs not yet done on a queue: ready, delayed and reserved. */
  size(queue: string): Promise<number>;
  stats(): Promise<QueueStats[]>;
  /**
   * Deletes the jobs waiting on a queue: ready, delayed, or whose lease ran out. Never a job a
   * worker holds or runs, nor failed records. Returns how many.
   */
  clear(queue: string): Promise<number>;
  readonly failed: FailedStore;
  readonly records: Records;
  readonly schedules: ScheduleStore;
  /** Workers' heartbeats and per-minute metrics (SPEC 15). */
  readonly monitor: MonitorStore;
  signals(): Promise<WorkerSignals>;
  requestRestart(): Promise<void>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** One turn of a worker that holds jobs ahead (see Holding). */
export interface Turn {
  /** Done jobs to remove (and, with a completion, to keep as completed). */
  acks: readonly Acknowledgement[];
  /** Held jobs about to run: each now counts as a try and its lease grows to timeout + margin. */
  starts: readonly Reservation[];
  /** Held jobs given back untouched: ready again at the front of their queue, no try used. */
  giveBacks: readonly Reservation[];
  /** Queues to hold more jobs from, in priority order (none: hold nothing this turn). */
  queues: string[];
  /**
   * `count`: how many to hold; `holdMs`: how long a held job's lease lasts before its start, or 0:
   * the jobs taken start in this turn, as reserve() starts them (their try counted, leased for it).
   */
  options: ReserveOptions & { holdMs: number };
}

export interface TurnResult {
  /** Per ack, in order: false when the lease had been taken over (nothing changed for that one). */
  acked: boolean[];
  /** Per start, in order: false when the hold had been lost (expired, or the queue was cleared). */
  started: boolean[];
  /** Newly held jobs; `attempts` is the try each will be once started (with `holdMs` 0: is, started). */
  held: Reservation[];
}

/**
 * An optional ability: hold a few jobs ahead, so a busy worker never waits on a round trip between
 * jobs. A held job is leased but not yet counted as a try (a worker killed while holding it costs
 * it nothing); its start counts the try. `turn` sends one round trip carrying acks, starts, gives
 * back and the next hold. `written` says its bytes already reached the operating system, so the
 * starts in it take effect even if this process dies the next moment: only then may the caller run
 * the started jobs before the result arrives.
 */
export interface Holding {
  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> };
  /**
   * Whether a worker at this concurrency gains from holding ahead (absent: at any). On SQL only one
   * at a time does: a turn is a transaction the worker waits for, where at higher concurrency claims
   * and batched acks on several pooled connections overlap (SQLite at c=50: 21,000 jobs/s through
   * turns against 30,000).
   */
  holdsAheadAt?(concurrency: number): boolean;
}

export function canHold(driver: Driver): driver is Driver & Holding {
  return typeof (driver as Partial<Holding>).turn === 'function';
}

/** An optional ability: a driver whose idle workers can block until a job may be ready. */
export interface BlockingWait {
  /**
   * Returns when a job may be ready on one of `queues`, after at most `maxMs`, or as soon as `abort`
   * fires (the worker stops, or a slot of its frees up). Resolves to false only when the driver
   * watched the queues for the whole wait and is sure no job became ready meanwhile: the worker
   * then waits again without a take (an idle SQL worker's take was a transaction every `--sleep`).
   * A driver may always resolve to true.
   */
  waitForJobs(queues: string[], maxMs: number, abort?: AbortSignal): Promise<boolean>;
}

export function canBlock(driver: Driver): driver is Driver & BlockingWait {
  return typeof (driver as Partial<BlockingWait>).waitForJobs === 'function';
}

/**
 * An optional ability: store jobs inside the application's own transaction on the same database
 * (a kysely Transaction), so they are committed or rolled back with it.
 */
export interface TransactionalPush {
  pushIn(transaction: unknown, jobs: StoredJob[]): Promise<Pushed[]>;
}

export function canPushInTransaction(driver: Driver): driver is Driver & TransactionalPush {
  return typeof (driver as Partial<TransactionalPush>).pushIn === 'function';
}

/** An optional ability: a driver whose storage has a schema to create or update (`queue migrate`). */
export interface Migrating {
  /** Creates or updates the storage; idempotent. Returns the migrations it applied. */
  migrate(): Promise<{ applied: string[] }>;
}

/**
 * An optional ability: a driver that is told when jobs finish (completed, failed, cancelled), so
 * Queue.wait need not poll (PostgreSQL LISTEN/NOTIFY; Redis pub/sub). A notice can be lost (a
 * reconnect): waiters still look now and then.
 */
export interface FinishNotices {
  /** Calls `listener` with the ids of jobs that finished from now on; resolves, once listening, to the unsubscribe. */
  onFinished(listener: (ids: string[]) => void): Promise<() => void>;
}

export function canNotifyFinished(driver: Driver): driver is Driver & FinishNotices {
  return typeof (driver as Partial<FinishNotices>).onFinished === 'function';
}

export function canMigrate(driver: Driver): driver is Driver & Migrating {
  return typeof (driver as Partial<Migrating>).migrate === 'function';
}
