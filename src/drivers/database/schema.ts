/**
 * Table layout of the database driver. Times are milliseconds since the epoch (BIGINT), so the
 * comparisons in the claim query are plain integer range scans on one index.
 */
import type { Generated } from 'kysely';
import { DEFAULT_TABLES, type DatabaseConnectionConfig } from '../../config/define.ts';

export interface JobsTable {
  /** Storage order: FIFO ties are broken by it. */
  id: Generated<number>;
  /** The envelope's id (null only for rows written by hand). */
  job_id: string | null;
  queue: string;
  payload: string;
  /** Reservations so far: incremented by the claim, so a job that kills its worker still runs out. */
  attempts: Generated<number>;
  /** The job's own timeout in ms, or null for the worker's default; sizes the lease. */
  timeout_ms: number | null;
  /**
   * When the row may next be claimed: the dispatch delay, a release's backoff, or, while reserved,
   * the lease expiry. One column for all three makes "ready or lease-expired" a single range.
   */
  available_at: number;
  /** The token of the current lease; null when not reserved. */
  reserved_by: string | null;
  created_at: number;
  /** When the current (or last) try started: set by the claim. Null before the first. */
  started_at: Generated<number | null>;
  /** What the job last reported with ctx.progress(), encoded. */
  progress: Generated<string | null>;
  /**
   * Null while the job waits or runs; `completed` or `cancelled` once it is a finished record (a
   * failure moves to the failed table). A finished row's available_at is FINISHED_AT_END, past every
   * claim's range, and its lease token is gone.
   */
  state: Generated<string | null>;
  /** What handle() returned, encoded (completed records). */
  result: Generated<string | null>;
  finished_at: Generated<number | null>;
  /** When the record's keep runs out: prune deletes it then. */
  expires_at: Generated<number | null>;
  /** Higher is claimed first; 0 once the row is a finished record (off every priority's range). */
  priority: Generated<number>;
  /** When a job that has not started a try by then ends `expired` instead; null: never. */
  start_by: number | null;
  /** The unique key the job holds on its queue, until it lets go of it (null: none, or let go). */
  unique_key: string | null;
  /** When the hold of unique_key runs out by itself; null: when the job lets go of it. */
  unique_lapses_at: number | null;
  /** 1: the claim lets go of the key (`until: 'start'`); otherwise the finish does. */
  unique_on_start: number | null;
}

/** The available_at of a finished record: the end of every queue's claim range (2^53 - 1 ms). */
export const FINISHED_AT_END = Number.MAX_SAFE_INTEGER;

export interface FailedJobsTable {
  id: string;
  connection: string;
  queue: string;
  job: string | null;
  payload: string;
  exception: string;
  failed_at: number;
}

export interface SignalsTable {
  /** `restart`, or `paused:<queue>`. */
  name: string;
  value: number;
}

/** One row per schedule that has a cursor, was added at run time, or is paused (SPEC 12). */
export interface SchedulesTable {
  name: string;
  /** The occurrence (ms) the schedule was last moved on to; null: none yet. */
  last_at: number | null;
  /** When the last fired occurrence's job was stored. */
  fired_at: number | null;
  /** 1 while paused. */
  paused: Generated<number>;
  /** A schedule added at run time: its definition (JSON); null for one in code. */
  definition: string | null;
}

/** One row per worker that beats (SPEC 15): what its last beat said; it goes once its lease ran out. */
export interface WorkersTable {
  /** WorkerBeat.id: its host, pid and a random part. */
  id: string;
  name: string;
  host: string;
  pid: number;
  /** JSON array of queue names, in priority order. */
  queues: string;
  concurrency: number;
  /** JSON array of the ids of the jobs it ran at its last beat. */
  running: string;
  /** By the worker's clock. */
  started_at: number;
  jobs_done: number;
  rss_bytes: number;
  /** The last beat applied (WorkerBeat.seq): a beat not above it changes nothing. */
  seq: number;
  /** When the last beat landed, by the backend's clock. */
  beat_at: number;
  /** beat_at + the lease it asked for: listed while it is ahead. */
  expires_at: number;
}

/** One count per queue, minute and field (contract/metrics.ts names the fields); minute 0 holds the all-time totals. */
export interface MetricsTable {
  queue: string;
  /** The minute's start, ms; 0 for the totals. */
  minute: number;
  field: string;
  value: number;
}

export interface Tables {
  queue_jobs: JobsTable;
  queue_failed_jobs: FailedJobsTable;
  queue_signals: SignalsTable;
  queue_schedules: SchedulesTable;
  queue_workers: WorkersTable;
  queue_metrics: MetricsTable;
}

export interface TableNames {
  jobs: string;
  failed: string;
  signals: string;
  schedules: string;
  workers: string;
  metrics: string;
}

/**
 * A connection's tables: as configured, or the defaults; the signals, schedules, workers and
 * metrics tables are named after the jobs table.
 */
export function tableNames(config: Pick<DatabaseConnectionConfig, 'table' | 'failedTable'>): TableNames {
  const jobs = config.table ?? DEFAULT_TABLES.table;
  const base = jobs.replace(/_jobs$/, '');
  return {
    jobs,
    failed: config.failedTable ?? DEFAULT_TABLES.failedTable,
    signals: `${base}_signals`,
    schedules: `${base}_schedules`,
    workers: `${base}_workers`,
    metrics: `${base}_metrics`,
  };
}
