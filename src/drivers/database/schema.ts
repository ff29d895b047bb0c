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
}

/** Finished records that are not failures (completed; later cancelled and expired), one per job id. */
export interface FinishedJobsTable {
  id: string;
  queue: string;
  state: string;
  payload: string;
  result: string | null;
  progress: string | null;
  attempts: number;
  started_at: number | null;
  finished_at: number;
  /** When the record's keep runs out: prune deletes it then. */
  expires_at: number;
}

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

export interface Tables {
  queue_jobs: JobsTable;
  queue_failed_jobs: FailedJobsTable;
  queue_finished_jobs: FinishedJobsTable;
  queue_signals: SignalsTable;
}

export interface TableNames {
  jobs: string;
  failed: string;
  finished: string;
  signals: string;
}

/**
 * A connection's tables: as configured, or the defaults; the signals and finished-jobs tables are
 * named after the jobs table (queue_jobs: queue_signals, queue_finished_jobs).
 */
export function tableNames(config: Pick<DatabaseConnectionConfig, 'table' | 'failedTable'>): TableNames {
  const jobs = config.table ?? DEFAULT_TABLES.table;
  const base = jobs.replace(/_jobs$/, '');
  return { jobs, failed: config.failedTable ?? DEFAULT_TABLES.failedTable, finished: `${base}_finished_jobs`, signals: `${base}_signals` };
}
