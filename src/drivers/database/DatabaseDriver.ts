/**
 * The `database` driver: jobs as rows of one table, claimed by the dialect's claim (sql/claim.ts)
 * and acknowledged in batches (AckBatcher). Every ack, release and fail names the row and its
 * lease token, so a worker whose lease was taken over changes nothing. All times come from the
 * dialect's clock: the database server's own on MySQL and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { QueueError } from '../../errors.ts';
import type { Driver, Failure, QueueStats, Reservation, ReserveOptions, StoredJob, WorkerSignals } from '../../queue/driver.ts';
import { backendUnavailable } from '../../queue/unavailable.ts';
import { AckBatcher } from './AckBatcher.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import { DatabaseFailedStore } from './DatabaseFailedStore.ts';
import { migrate, type MigrationResult } from './migrations.ts';
import type { TableNames, Tables } from './schema.ts';

const RESTART = 'restart';
const PAUSED = 'paused:';
/** Rows per INSERT: under SQLite's bound-parameter limit; a bulk is still one transaction. */
const INSERT_CHUNK = 500;

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

export class DatabaseDriver implements Driver {
  readonly failed: DatabaseFailedStore;
  private readonly db: Kysely<Tables>;
  private readonly acks: AckBatcher;
  private prepared: Promise<unknown> | undefined;

  constructor(
    readonly connection: string,
    private readonly dialect: SqlDialect,
    private readonly tables: TableNames,
    private readonly options: DatabaseDriverOptions,
  ) {
    this.db = dialect.connect();
    this.failed = new DatabaseFailedStore(connection, tables, dialect, (what, work) => this.call(what, work));
    this.acks = new AckBatcher((rows) => this.dialect.deleteOwned(this.db, this.tables.jobs, rows));
  }

  private get jobs() {
    return this.tables.jobs as 'queue_jobs';
  }

  private get signalTable() {
    return this.tables.signals as 'queue_signals';
  }

  /** Creates or updates the tables. Idempotent. */
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
      this.prepared ??= (this.options.autoMigrate ? migrate(this.db, this.tables, this.dialect) : this.dialect.checkServer(this.db)).catch((error) => {
        this.prepared = undefined;
        throw error;
      });
      await this.prepared;
      return await this.retryingConflicts(() => work(this.db));
    } catch (error) {
      throw this.translate(what, error);
    }
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
      return new QueueError('BACKEND_UNAVAILABLE', `the queue tables of connection '${this.connection}' do not exist; run \`queue migrate\``, { cause: error });
    }
    const { code, message } = error as { code?: string; message?: string };
    if ((code && UNREACHABLE.has(code)) || /connect|terminat|closed state|Connection lost|server has gone away/i.test(message ?? '')) {
      return backendUnavailable(what, this.dialect.client, this.connection, this.dialect.describe, message || code || 'connection lost', error);
    }
    return error;
  }

  async push(jobs: StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = this.dialect.now();
    const rows = jobs.map((job) => ({
      job_id: job.id,
      queue: job.queue,
      payload: job.payload,
      attempts: 0,
      timeout_ms: job.timeout === null ? null : Math.ceil(job.timeout * 1000),
      available_at: sql<number>`${now} + ${Math.max(0, Math.round(job.delayMs))}`,
      reserved_by: null,
      created_at: now,
    }));
    await this.call('push jobs', async (db) => {
      if (rows.length <= INSERT_CHUNK) {
        await db.insertInto(this.jobs).values(rows).execute();
        return;
      }
      await this.dialect.writeTransaction(db, async (trx) => {
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto(this.jobs).values(rows.slice(i, i + INSERT_CHUNK)).execute();
      });
    });
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    const token = randomUUID();
    return this.call('reserve jobs', async (db) => {
      const claimed = await this.claimFirst(db, queues, options, token);
      if (claimed.length > 0 || !this.acks.busy) return claimed;
      // An empty claim while this driver's own acks are being committed is not conclusive: on
      // MariaDB the rows those transactions delete can make SKIP LOCKED pass over every ready row
      // (5,000 jobs at concurrency 50 left 100 behind). Look again once they are committed.
      await this.acks.idle();
      return this.claimFirst(db, queues, options, token);
    });
  }

  /** Leases up to `count` jobs from the first of `queues` that has any. */
  private async claimFirst(db: Kysely<Tables>, queues: string[], options: ReserveOptions, token: string): Promise<Reservation[]> {
    for (const queue of queues) {
      const rows = await this.dialect.claim(db, this.tables.jobs, {
        queue,
        count: options.count,
        token,
        defaultTimeoutMs: Math.ceil(options.defaultTimeout * 1000),
        marginMs: Math.ceil(options.leaseMargin * 1000),
      });
      if (rows.length > 0) {
        return rows.map((row) => ({ handle: String(row.id), queue: row.queue, payload: row.payload, attempts: row.attempts, token, leaseExpiresAt: row.available_at }));
      }
    }
    return [];
  }

  ack(reservation: Reservation): Promise<boolean> {
    return this.call('acknowledge a job', () => this.acks.ack({ id: Number(reservation.handle), token: reservation.token }));
  }

  async release(reservation: Reservation, delaySeconds: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    const result = await this.call('release a job', (db) =>
      db
        .updateTable(this.jobs)
        .set({
          available_at: sql<number>`${this.dialect.now()} + ${Math.round(delaySeconds * 1000)}`,
          reserved_by: null,
          ...(options.refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
        })
        .where('id', '=', Number(reservation.handle))
        .where('reserved_by', '=', reservation.token)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async fail(reservation: Reservation, failure: Failure): Promise<boolean> {
    return this.call('fail a job', (db) =>
      this.dialect.writeTransaction(db, async (trx) => {
        // The record first, then the removal: nothing is deleted without a terminal record.
        const id = await this.failed.insert(trx, reservation.queue, failure);
        const removed = await trx.deleteFrom(this.jobs).where('id', '=', Number(reservation.handle)).where('reserved_by', '=', reservation.token).executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) {
          // The lease was taken over: the other holder decides this job's fate.
          await trx.deleteFrom(this.tables.failed as 'queue_failed_jobs').where('id', '=', id).execute();
          return false;
        }
        return true;
      }),
    );
  }

  async size(queue: string): Promise<number> {
    const row = await this.call('count jobs', (db) => db.selectFrom(this.jobs).select((eb) => eb.fn.countAll<number>().as('n')).where('queue', '=', queue).executeTakeFirst());
    return Number(row?.n ?? 0);
  }

  async stats(): Promise<QueueStats[]> {
    const now = this.dialect.now();
    const rows = await this.call('read queue stats', (db) =>
      db
        .selectFrom(this.jobs)
        .select((eb) => [
          'queue',
          eb.fn.sum<number>(eb.case().when('available_at', '<=', now).then(1).else(0).end()).as('ready'),
          eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is', null)])).then(1).else(0).end()).as('delayed'),
          eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is not', null)])).then(1).else(0).end()).as('reserved'),
        ])
        .groupBy('queue')
        .execute(),
    );
    const byQueue = new Map<string, QueueStats>();
    for (const row of rows) {
      byQueue.set(row.queue, { queue: row.queue, ready: Number(row.ready), delayed: Number(row.delayed), reserved: Number(row.reserved), failed: 0 });
    }
    for (const { queue, failed } of await this.failed.countByQueue()) {
      const stats = byQueue.get(queue) ?? { queue, ready: 0, delayed: 0, reserved: 0, failed: 0 };
      stats.failed = failed;
      byQueue.set(queue, stats);
    }
    return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  async clear(queue: string): Promise<number> {
    const result = await this.call('clear a queue', (db) => db.deleteFrom(this.jobs).where('queue', '=', queue).executeTakeFirst());
    return Number(result.numDeletedRows);
  }

  async signals(): Promise<WorkerSignals> {
    return this.call('read worker signals', async (db) => {
      const [rows, clock] = await Promise.all([
        db.selectFrom(this.signalTable).select(['name', 'value']).execute(),
        sql<{ now: number }>`select ${this.dialect.now()} as now`.execute(db),
      ]);
      let restartRequestedAt: number | null = null;
      const paused: string[] = [];
      for (const row of rows) {
        if (row.name === RESTART) restartRequestedAt = Number(row.value);
        else if (row.name.startsWith(PAUSED)) paused.push(row.name.slice(PAUSED.length));
      }
      return { now: Number(clock.rows[0]!.now), restartRequestedAt, paused: paused.sort() };
    });
  }

  requestRestart(): Promise<void> {
    return this.setSignal(RESTART);
  }

  pause(queue: string): Promise<void> {
    return this.setSignal(PAUSED + queue);
  }

  async resume(queue: string): Promise<void> {
    await this.call('resume a queue', (db) => db.deleteFrom(this.signalTable).where('name', '=', PAUSED + queue).execute());
  }

  /** Upsert without dialect-specific syntax: delete and insert in one transaction. */
  private async setSignal(name: string): Promise<void> {
    await this.call('set a worker signal', (db) =>
      this.dialect.writeTransaction(db, async (trx) => {
        await trx.deleteFrom(this.signalTable).where('name', '=', name).execute();
        await trx.insertInto(this.signalTable).values({ name, value: this.dialect.now() }).execute();
      }),
    );
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
