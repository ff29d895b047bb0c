/** What differs between the SQL databases the database driver runs on. */
import type { InsertQueryBuilder, InsertResult, Kysely, RawBuilder } from 'kysely';
import type { DatabaseClient } from '../../../config/define.ts';
import type { Completion } from '../../../contract/driver.ts';
import type { Refusal } from '../../../contract/unavailable.ts';
import type { Tables } from '../schema.ts';
import type { ClaimedRow, ClaimParams, TryLease } from '../sql/claim.ts';

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

/** A held row to start (sql/start.ts). */
export interface StartRow extends OwnedRow {
  /** The try it is, once started. */
  attempts: number;
}

/** The parts of a holding worker's turn, for the one statement that makes them all (sql/turn.ts). */
export interface TurnParts {
  /** Acks that keep no record (deleted), and those that keep one (finished as `completed`). */
  plain: OwnedRow[];
  kept: FinishRow[];
  starts: StartRow[];
  /** The lease of a started try. */
  lease: TryLease;
  giveBacks: OwnedRow[];
  /** The claim of the next hold, if the turn takes any. */
  hold: ClaimParams | undefined;
}

/** What that statement did. */
export interface TurnDone {
  /** The ids acked: deleted or finished now (and on MySQL, after a lost lease, those gone already). */
  acked: Set<number>;
  started: Set<number>;
  held: ClaimedRow[];
}

export interface SqlDialect {
  readonly client: DatabaseClient;
  /** host:port or the file, for messages: never a password. */
  readonly describe: string;
  connect(): Kysely<Tables>;
  /** Refuses, with a clear message, a server that cannot run the claim (no SKIP LOCKED). */
  checkServer(db: Kysely<Tables>): Promise<void>;
  /**
   * Runs `work` in a transaction that holds the write lock from its first statement. Given a
   * transaction already (a holding worker's turn, DatabaseHolding), `work` runs in it: the dialect's
   * own statements that take a transaction of their own (MySQL's claim and ack) then join it.
   */
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
  /** Sets `set` on the rows still held by these tokens (sql/owned.ts); returns their ids. */
  updateOwned(db: Kysely<Tables>, table: string, rows: OwnedRow[], set: RawBuilder<unknown>): Promise<Set<number>>;
  /**
   * A holding worker's turn in one commit and as few round trips as the database allows (sql/turn.ts:
   * one statement on PostgreSQL); where absent (SQLite, whose round trips cost nothing), its parts
   * run one after another in a transaction with the statements above (DatabaseHolding).
   */
  turn?(db: Kysely<Tables>, table: string, parts: TurnParts, channel: string): Promise<TurnDone>;
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
   * Tells a collision error: where set, a push of one INSERT (sql/insertJobs.ts) may go first
   * without the skip clause; a collision fails the statement and undoes it, and the push goes on
   * (a plain one again with the clause, a unique one to the steps that sort out duplicates).
   * mysql2 counts a row that ON DUPLICATE KEY UPDATE left as it was among the rows it stored (its
   * FOUND_ROWS flag), so on MySQL a count cannot tell. Absent (SQLite), the INSERT skips the row
   * and the push counts the rows stored.
   */
  isCollision?(error: unknown): boolean;
  /**
   * A failed statement aborts the transaction it runs in, and the server logs it (PostgreSQL): a
   * push sends its INSERT without the skip clause only where it has more than one row and runs
   * alone or after a savepoint. There the skip clause is dear: with ON CONFLICT DO NOTHING a bulk
   * of 1,000 rows took 29 ms against 21 without (plain jobs), 39 against 26 with a unique key each
   * (test/bench/profile/pg-skip-clause.ts), and a collision in a bulk is rare (a push sent again,
   * or a duplicate among unique jobs), where a duplicate dispatched alone is the usual one.
   */
  readonly failureAborts?: true;
  /**
   * The database takes a whole column as one array parameter (PostgreSQL): a push's INSERT selects
   * its rows from unnest() of one array per column (sql/insertJobs.ts), one statement text for any
   * number of jobs. Absent: the rows go as a VALUES list.
   */
  readonly bindsArrays?: true;
  /**
   * The most bytes one statement may carry once its values are escaped (MySQL's max_allowed_packet,
   * read by checkServer), or undefined where no limit is near a job's size.
   */
  statementBytes?: number;
  /** Tells listeners of `channel`, once the transaction commits (PostgreSQL's NOTIFY). */
  notify?(trx: Kysely<Tables>, channel: string, payload: string): Promise<void>;
  /**
   * A number that changes whenever another connection commits (SQLite's PRAGMA data_version), read
   * on the connection connect() opened: an idle worker looks for ready jobs only when it moved (JobWaiter).
   */
  changeMarker?(): number;
  /**
   * Calls `onWrite` when the database's files may have been written (SQLite: the file system tells
   * of a write to its write-ahead log), so a waiter reads changeMarker() then instead of on a timer.
   * Returns the unsubscribe, or undefined when nothing can tell (the waiter then reads on a timer).
   */
  watchWrites?(onWrite: () => void): (() => void) | undefined;
  /** Opens a connection of its own to hear notices (PostgreSQL's LISTEN), on the channels `add` names. */
  listen?(onNotice: (channel: string, payload: string) => void, onLost: (error: Error) => void): Promise<Listening>;
}

/** A listening connection: `add` starts hearing a channel (resolves once the server listens); `close` ends it. */
export interface Listening {
  add(channel: string): Promise<void>;
  close(): Promise<void>;
}

export type JobsInsert = InsertQueryBuilder<Tables, 'queue_jobs', InsertResult>;

