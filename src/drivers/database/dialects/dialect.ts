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

/** A leased row to finish as a record: its result and how long the record is kept. */
export interface FinishRow extends OwnedRow {
  result: string | null;
  keepMs: number;
}

/** A row finish() made a record: its row id and job id. */
export interface FinishedRow {
  id: number;
  job_id: string | null;
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
  /**
   * Makes the rows still held by these tokens finished records in `state` (sql/finish.ts); returns
   * them. On PostgreSQL the same statement tells `channel` their job ids.
   */
  finishOwned(db: Kysely<Tables>, table: string, rows: FinishRow[], state: string, channel: string): Promise<FinishedRow[]>;
  /** Column types that differ: the auto-increment id and the (>= 16 MB) payload. */
  readonly types: { id: 'integer' | 'bigint' | 'bigserial'; text: 'text' | 'longtext' };
  /** The table options MySQL needs (utf8mb4, exact comparisons of queue names). */
  readonly tableSuffix?: RawBuilder<unknown>;
  /** True when the error says a queue table or column is missing (not migrated, or by an earlier release). */
  isMissingTable(error: unknown): boolean;
  /** What the server refused, when the error is a refusal that a setting must fix. */
  refusal(error: unknown): Refusal | undefined;
  /**
   * The insert, made to skip rows that collide with a stored one: its job_id (a push sent twice
   * stores nothing twice) or its queue's unique key (a duplicate).
   */
  skipCollisions(insert: JobsInsert): JobsInsert;
  /**
   * The most bytes one statement may carry once its values are escaped (MySQL's max_allowed_packet,
   * read by checkServer), or undefined where no limit is near a job's size.
   */
  statementBytes?: number;
  /** Tells listeners of `channel`, once the transaction commits (PostgreSQL's NOTIFY). */
  notify?(trx: Kysely<Tables>, channel: string, payload: string): Promise<void>;
  /** Listens on `channel` with a connection of its own (PostgreSQL's LISTEN); `close` ends it. */
  listen?(channel: string, onPayload: (payload: string) => void, onLost: (error: Error) => void): Promise<{ close(): Promise<void> }>;
}

export type JobsInsert = InsertQueryBuilder<Tables, 'queue_jobs', InsertResult>;

