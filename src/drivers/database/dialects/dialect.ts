/** What differs between the SQL databases the database driver runs on. */
import type { InsertQueryBuilder, InsertResult, Kysely, RawBuilder } from 'kysely';
import type { DatabaseClient } from '../../../config/define.ts';
import type { Completion } from '../../../contract/driver.ts';
import type { Refusal } from '../../../contract/unavailable.ts';
import type { Tables } from '../schema.ts';
import type { ClaimedRow, ClaimParams } from '../sql/claim.ts';

export interface OwnedRow {
  id: number;
  token: string;
}

/** A done job's row, and how its record is kept (none: the row just goes). */
export interface DoneRow extends OwnedRow {
  completion?: Completion;
}

/** A done job's row, as deleted by its owner: what its record is made of. */
export interface TakenRow {
  id: number;
  job_id: string | null;
  queue: string;
  payload: string;
  attempts: number;
  started_at: number | null;
  progress: string | null;
}

export interface SqlDialect {
  readonly client: DatabaseClient;
  /** host:port or the file, for messages: never a password. */
  readonly describe: string;
  connect(): Kysely<Tables>;
  /** Refuses, with a clear message, a server that cannot run the claim (no SKIP LOCKED). */
  checkServer(db: Kysely<Tables>): Promise<void>;
  /** Runs `work` in a transaction that holds the write lock from its first statement. */
  writeTransaction<T>(db: Kysely<Tables>, work: (trx: Kysely<Tables>) => Promise<T>): Promise<T>;
  /** The one clock, in ms since the epoch: the database's own where it has one. */
  now(): RawBuilder<number>;
  claim(db: Kysely<Tables>, table: string, params: ClaimParams): Promise<ClaimedRow[]>;
  /** Deletes the rows still held by these tokens; returns the ids it deleted. */
  deleteOwned(db: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<Set<number>>;
  /** As deleteOwned, inside the caller's write transaction, returning the rows it deleted. */
  takeOwned(trx: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<TakenRow[]>;
  /** Column types that differ: the auto-increment id and the (>= 16 MB) payload. */
  readonly types: { id: 'integer' | 'bigint' | 'bigserial'; text: 'text' | 'longtext' };
  /** The table options MySQL needs (utf8mb4, exact comparisons of queue names). */
  readonly tableSuffix?: RawBuilder<unknown>;
  /** True when the error says a queue table or column is missing (not migrated, or by an earlier release). */
  isMissingTable(error: unknown): boolean;
  /** What the server refused, when the error is a refusal that a setting must fix. */
  refusal(error: unknown): Refusal | undefined;
  /** The insert, made to skip rows whose job_id is already stored (a push sent twice stores nothing twice). */
  skipStoredIds(insert: JobsInsert): JobsInsert;
  /** The insert of finished records, made to replace a record of the same id (one statement, no delete first). */
  replaceRecords(insert: RecordsInsert): RecordsInsert;
  /**
   * The most bytes one statement may carry once its values are escaped (MySQL's max_allowed_packet,
   * read by checkServer), or undefined where no limit is near a job's size.
   */
  statementBytes?: number;
  /**
   * Where the database can, the ack of done rows that keep a record in one statement: deleted,
   * recorded and told on `channel` (sql/complete.ts); returns the ids it deleted. Elsewhere the
   * driver does it in a transaction of several statements.
   */
  completeOwned?(db: Kysely<Tables>, tables: { jobs: string; finished: string }, rows: DoneRow[], channel: string): Promise<Set<number>>;
  /** Tells listeners of `channel`, once the transaction commits (PostgreSQL's NOTIFY). */
  notify?(trx: Kysely<Tables>, channel: string, payload: string): Promise<void>;
  /** Listens on `channel` with a connection of its own (PostgreSQL's LISTEN); `close` ends it. */
  listen?(channel: string, onPayload: (payload: string) => void, onLost: (error: Error) => void): Promise<{ close(): Promise<void> }>;
}

export type JobsInsert = InsertQueryBuilder<Tables, 'queue_jobs', InsertResult>;
export type RecordsInsert = InsertQueryBuilder<Tables, 'queue_finished_jobs', InsertResult>;

/** The columns of a finished record that a record of the same id replaces (all but the id). */
export const RECORD_COLUMNS = ['queue', 'state', 'payload', 'result', 'progress', 'attempts', 'started_at', 'finished_at', 'expires_at'] as const;
