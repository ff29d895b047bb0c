/**
 * The `database` driver: jobs as rows of one table, claimed by the dialect's claim (sql/claim.ts)
 * and acknowledged in batches (AckBatcher), or, for a worker that holds jobs ahead, both in one
 * transaction per turn (DatabaseHolding). Every ack, release and fail names the row and its
 * lease token, so a worker whose lease was taken over changes nothing. All times come from the
 * dialect's clock: the database server's own on MySQL and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { QueueError } from '../../errors.ts';
import type { BlockingWait, Completion, Driver, Failure, Holding, Keeping, Migrating, Pushed, QueueStats, Reservation, ReserveOptions, StoredJob, TransactionalPush, Turn, TurnResult, WorkerSignals } from '../../contract/driver.ts';
import { DEFAULT_KEEPING } from '../../contract/records.ts';
import { cancelSignal, pausedSignal, RESTART_SIGNAL } from '../../contract/signals.ts';
import { backendUnavailable, type Refusal } from '../../contract/unavailable.ts';
import { AckBatcher } from './AckBatcher.ts';
import { channelOf } from './channels.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import { DatabaseFailedStore } from './DatabaseFailedStore.ts';
import { DatabaseHolding } from './DatabaseHolding.ts';
import { DatabaseMonitor } from './DatabaseMonitor.ts';
import { DatabaseRecords } from './DatabaseRecords.ts';
import { DatabaseSchedules } from './DatabaseSchedules.ts';
import { JobWaiter } from './JobWaiter.ts';
import { claimFirst } from './leases.ts';
import { migrate, type MigrationResult } from './migrations.ts';
import { Notices } from './Notices.ts';
import type { TableNames, Tables } from './schema.ts';
import { clearWaiting } from './sql/clear.ts';
import { acknowledge, withGoneRows } from './sql/deleteOwned.ts';
import { failOwned } from './sql/fail.ts';
import { insertJobs } from './sql/insertJobs.ts';
import { nextReadyLooks } from './sql/nextReady.ts';
import { releaseOwned } from './sql/release.ts';
import { deleteSignal, readSignals, setSignal } from './sql/signals.ts';
import { countByQueue } from './sql/stats.ts';

/** What to fix when the server refused us: the variables of .env.example that set it. */
const SQL_FIXES: Record<Refusal, string> = {
  credentials: 'check DB_USER and DB_PASS, or the user and password in DATABASE_URL',
  database: 'create that database, or fix DB_NAME or the database in DATABASE_URL',
  permission: 'grant that user CREATE, SELECT, INSERT, UPDATE and DELETE there, or connect as another (DB_USER)',
};

/** Error codes that mean "the server is not there (now)", from mysql2, pg and Node's sockets. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', '57P01', '57P02', '57P03', '08006', '08001', '08003']);

const MAX_CONFLICT_RETRIES = 8;

/** Deadlock or lock-wait timeout (MySQL 1213, 1205), deadlock or serialization failure (PostgreSQL). */
function isConflict(error: unknown): boolean {
  const { errno, code } = error as { errno?: number; code?: string };
  return errno === 1213 || errno === 1205 || code === '40P01' || code === '40001';
}

export interface DatabaseDriverOptions {
  /** Create the tables on first use (SQLite); other databases need `queue migrate`. */
  autoMigrate: boolean;
}

export class DatabaseDriver implements Driver, Migrating, TransactionalPush, BlockingWait, Holding {
  readonly failed: DatabaseFailedStore;
  readonly records: DatabaseRecords;
  readonly schedules: DatabaseSchedules;
  readonly monitor: DatabaseMonitor;
  private readonly db: Kysely<Tables>;
  private readonly acks: AckBatcher;
  private readonly holding: DatabaseHolding;
  private prepared: Promise<unknown> | undefined;
  /** PostgreSQL's notices (finished jobs, jobs ready), over one connection of their own. */
  private readonly notices: Notices | undefined;
  private readonly waiter: JobWaiter;

  constructor(
    readonly connection: string,
    private readonly dialect: SqlDialect,
    private readonly tables: TableNames,
    private readonly options: DatabaseDriverOptions,
  ) {
    this.db = dialect.connect();
    this.failed = new DatabaseFailedStore(connection, tables, dialect, (what, work) => this.call(what, work));
    this.records = new DatabaseRecords(connection, tables, dialect, (what, work) => this.call(what, work), this.failed);
    this.schedules = new DatabaseSchedules(connection, tables, dialect, (what, work) => this.call(what, work));
    this.monitor = new DatabaseMonitor(tables, dialect, (what, work) => this.call(what, work));
    this.acks = new AckBatcher((rows) => acknowledge(this.db, dialect, tables.jobs, rows, this.records.channel));
    this.holding = new DatabaseHolding(dialect, tables.jobs, this.records, this.acks, (what, work) => this.call(what, work));
    this.notices = dialect.listen && new Notices(dialect.listen.bind(dialect), (what, error) => this.translate(what, error));
    this.waiter = this.jobWaiter();
  }

  /** BlockingWait's waiter: it looks (sql/nextReady.ts), and hears PostgreSQL's notices or reads SQLite's change marker when its files are written. */
  private jobWaiter(): JobWaiter {
    const look = nextReadyLooks(this.tables.jobs, this.dialect);
    const notices = this.notices;
    return new JobWaiter((queues) => this.call('wait for jobs', (db) => look(db, queues)), {
      notices: notices && ((hear) => notices.subscribe(channelOf(this.tables.jobs, 'ready'), 'wait for jobs', hear)),
      changes: this.dialect.changeMarker?.bind(this.dialect),
      writes: this.dialect.watchWrites?.bind(this.dialect),
    });
  }

  private get jobs() {
    return this.tables.jobs as 'queue_jobs';
  }

  /** Creates or updates the tables. Idempotent (the Migrating ability). */
  migrate(): Promise<MigrationResult> {
    return this.call('migrate', async () => {
      await this.dialect.checkServer(this.db);
      return migrate(this.db, this.tables, this.dialect);
    });
  }

  /**
   * Runs a database call once the server is known to be usable (and, on SQLite, the tables exist).
   * Errors become one clear line: a missing table says to migrate, a lost server names its host.
   */
  async call<T>(what: string, work: (db: Kysely<Tables>) => Promise<T>): Promise<T> {
    try {
      await this.ready();
      try {
        return await this.retryingConflicts(() => work(this.db));
      } catch (error) {
        // One connection of the pool was cut (a server-side kill, an idle timeout, a proxy restart):
        // the pool opens another, so try once more. Every operation here is safe to run twice
        // (see push, ack, release and fail); if the server itself is gone, this fails too.
        if (!isConnectionLoss(error)) throw error;
        return await this.retryingConflicts(() => work(this.db));
      }
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  /** The server is known to be usable (and, on SQLite, the tables exist): checked once. */
  private ready(): Promise<unknown> {
    this.prepared ??= (this.options.autoMigrate ? migrate(this.db, this.tables, this.dialect) : this.dialect.checkServer(this.db)).catch((error) => {
      this.prepared = undefined;
      throw error;
    });
    return this.prepared;
  }

  /**
   * A deadlock or serialization failure rolls the whole statement or transaction back, so running
   * it again is safe for every operation here; it is a collision between workers, not an outage.
   */
  private async retryingConflicts<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= MAX_CONFLICT_RETRIES || !isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  private translate(what: string, error: unknown): unknown {
    if (error instanceof QueueError) return error;
    if (this.dialect.isMissingTable(error)) {
      return new QueueError('BACKEND_UNAVAILABLE', `the queue tables of connection '${this.connection}' do not exist, or an earlier release made them; run \`queue migrate\``, { cause: error });
    }
    const refusal = this.dialect.refusal(error);
    if (refusal) {
      return backendUnavailable(what, this.dialect.client, this.connection, this.dialect.describe, (error as Error).message, error, SQL_FIXES[refusal]);
    }
    if (isConnectionLoss(error)) {
      const { code, message } = error as { code?: string; message?: string };
      return backendUnavailable(what, this.dialect.client, this.connection, this.dialect.describe, message || code || 'connection lost', error);
    }
    return error;
  }

  /**
   * Stores jobs, all or nothing (sql/insertJobs.ts). A job whose id is already stored is skipped,
   * so a push sent again (the connection dropped before its answer) stores nothing twice; a unique
   * job whose key is held is a duplicate.
   */
  async push(jobs: StoredJob[]): Promise<Pushed[]> {
    if (jobs.length === 0) return [];
    const pushed = await this.call('push jobs', (db) => insertJobs(db, this.tables.jobs, jobs, this.dialect, this.connection));
    this.waiter.stored(new Set(jobs.map((job) => job.queue)));
    return pushed;
  }

  /**
   * Stores jobs inside the application's transaction on this same database: it commits or rolls
   * them back. Not retried on a lost connection (the transaction is the application's to retry).
   */
  async pushIn(transaction: unknown, jobs: StoredJob[]): Promise<Pushed[]> {
    if (jobs.length === 0) return [];
    try {
      await this.ready();
      return await insertJobs(transaction as Kysely<Tables>, this.tables.jobs, jobs, this.dialect, this.connection, true);
    } catch (error) {
      throw this.translate('push jobs in a transaction', error);
    }
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    const token = randomUUID();
    return this.call('reserve jobs', async (db) => {
      const acking = this.acks.busy;
      let claimed = await claimFirst(db, this.dialect, this.tables.jobs, queues, options, token);
      if (claimed.length === 0 && (acking || this.acks.busy)) {
        // An empty claim while this driver's own acks are being committed is not conclusive: on
        // MariaDB the rows those transactions delete can make SKIP LOCKED pass over every ready row
        // (5,000 jobs at concurrency 50 left 100 behind). Look again once they are committed; acks
        // that were in flight when the claim began count too, though they may be done by its end.
        await this.acks.idle();
        claimed = await claimFirst(db, this.dialect, this.tables.jobs, queues, options, token);
      }
      // Nothing to run: the jobs of these queues past their expiry, which the claim passes over, end now.
      if (claimed.length === 0) await this.records.expireOverdue(db, (options.keeping ?? DEFAULT_KEEPING).keepMs, queues);
      return claimed;
    });
  }

  ack(reservation: Reservation, completion?: Completion): Promise<boolean> {
    return this.call('acknowledge a job', () => this.acks.ack({ id: Number(reservation.handle), token: reservation.token, completion }));
  }

  /** One turn of a worker that holds jobs ahead: its acks, starts, give-backs and next hold in one transaction (DatabaseHolding). */
  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> } {
    return this.holding.turn(turn);
  }

  /** A worker at concurrency 1 holds ahead: one commit per job. More run reserve() and batched acks (see Holding). */
  holdsAheadAt(concurrency: number): boolean {
    return concurrency === 1;
  }

  release(reservation: Reservation, delayMs: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    return this.call('release a job', async (db) => {
      const released = await releaseOwned(db, this.tables.jobs, this.dialect.now(), Number(reservation.handle), reservation.token, delayMs, options.refundAttempt === true);
      // Ready again at once: idle workers hear of it, of this process and (PostgreSQL) of others.
      if (released && delayMs <= 0) {
        await this.dialect.notify?.(db, channelOf(this.tables.jobs, 'ready'), reservation.queue);
        this.waiter.stored([reservation.queue]);
      }
      return released;
    });
  }

  fail(reservation: Reservation, failure: Failure): Promise<boolean> {
    const records = { ...this.failed.recordsOf(reservation.queue, failure), finished: (trx: Kysely<Tables>, id: string) => this.records.notify(trx, [id]) };
    return this.call('fail a job', (db) => failOwned(db, this.tables.jobs, this.dialect, Number(reservation.handle), reservation.token, records));
  }

  /**
   * Where the database can tell (PostgreSQL's LISTEN/NOTIFY): `listener` hears the ids of jobs that
   * finish, over the one connection this driver listens on (FinishNotices).
   */
  get onFinished(): ((listener: (ids: string[]) => void) => Promise<() => void>) | undefined {
    const notices = this.notices;
    if (!notices) return undefined;
    return (listener) => notices.subscribe(this.records.channel, 'listen for finished jobs', (payload) => listener(JSON.parse(payload) as string[]));
  }

  /** Returns when a job may be ready on one of `queues`, after at most `maxMs`, or once `abort` fires (BlockingWait: see JobWaiter). */
  waitForJobs(queues: string[], maxMs: number, abort?: AbortSignal): Promise<boolean> {
    return this.waiter.wait(queues, maxMs, abort);
  }

  cancelRunning(reservation: Reservation, keeping: Keeping): Promise<boolean> {
    const row = { id: Number(reservation.handle), token: reservation.token };
    return this.call('cancel a running job', async (db) => {
      const [finished] = await this.dialect.finishOwned(db, this.tables.jobs, [{ ...row, result: null, keepMs: keeping.keepMs }], 'cancelled', this.records.channel);
      // The request is done with: a request left behind (this process died first) goes at the next prune.
      if (finished?.job_id) await deleteSignal(db, this.tables.signals, cancelSignal(finished.job_id));
      // Sent again after its answer was lost: the job is a record already, which counts as done.
      return finished !== undefined || (await withGoneRows(db, this.tables.jobs, [row], new Set())).has(row.id);
    });
  }

  async progress(reservation: Reservation, progress: string): Promise<boolean> {
    const updated = await this.call('store a job\'s progress', (db) =>
      db.updateTable(this.jobs).set({ progress }).where('id', '=', Number(reservation.handle)).where('reserved_by', '=', reservation.token).executeTakeFirst());
    return Number(updated.numUpdatedRows) > 0;
  }

  async size(queue: string): Promise<number> {
    const row = await this.call('count jobs', (db) => db.selectFrom(this.jobs).select((eb) => eb.fn.countAll<number>().as('n')).where('queue', '=', queue).where('state', 'is', null).executeTakeFirst());
    return Number(row?.n ?? 0);
  }

  async stats(): Promise<QueueStats[]> {
    const counts = await this.call('read queue stats', (db) => countByQueue(db, this.tables.jobs, this.dialect.now()));
    const byQueue = new Map<string, QueueStats>(counts.map((c) => [c.queue, { ...c, failed: 0, completed: 0, cancelled: 0 }]));
    const of = (queue: string) => byQueue.get(queue) ?? byQueue.set(queue, { queue, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 }).get(queue)!;
    for (const { queue, failed } of await this.failed.countByQueue()) of(queue).failed = failed;
    for (const { queue, state, n } of await this.records.countByQueue()) {
      if (state === 'completed' || state === 'cancelled') of(queue)[state] = n;
    }
    return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  clear(queue: string): Promise<number> {
    return this.call('clear a queue', (db) => clearWaiting(db, this.tables.jobs, this.dialect.now(), queue));
  }

  signals(): Promise<WorkerSignals> {
    return this.call('read which queues are paused', (db) => readSignals(db, this.tables.signals, this.dialect));
  }

  async requestRestart(): Promise<void> {
    await this.call('request a restart', (db) => setSignal(db, this.tables.signals, this.dialect, RESTART_SIGNAL));
  }

  async pause(queue: string): Promise<void> {
    await this.call('pause a queue', (db) => setSignal(db, this.tables.signals, this.dialect, pausedSignal(queue)));
  }

  async resume(queue: string): Promise<void> {
    await this.call('resume a queue', (db) => deleteSignal(db, this.tables.signals, pausedSignal(queue)));
  }

  async close(): Promise<void> {
    await this.notices?.close();
    await this.db.destroy();
  }
}

/** A lost or refused connection (mysql2, pg, Node's sockets), as opposed to an error of the statement. */
function isConnectionLoss(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (code !== undefined && UNREACHABLE.has(code)) || /connect|terminat|closed state|Connection lost|server has gone away/i.test(message ?? '');
}
