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
import type { OwnedRow, SqlDialect } from './dialects/dialect.ts';
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

/** Room left in a statement for its SQL text and one row's other columns. */
const STATEMENT_OVERHEAD_BYTES = 64 * 1024;

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
    this.acks = new AckBatcher((rows) => this.deleteOwned(rows));
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
    if (isConnectionLoss(error)) {
      const { code, message } = error as { code?: string; message?: string };
      return backendUnavailable(what, this.dialect.client, this.connection, this.dialect.describe, message || code || 'connection lost', error);
    }
    return error;
  }

  /**
   * Stores jobs in one transaction. A job whose id is already stored is skipped, so a push sent
   * again (the connection dropped before its answer) stores nothing twice. Statements carry at most
   * INSERT_CHUNK rows and, on MySQL, stay under the server's max_allowed_packet.
   */
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
      const chunks = this.statementsFor(jobs);
      const insert = (into: Kysely<Tables>, [from, to]: [number, number]) => this.dialect.skipStoredIds(into.insertInto(this.jobs).values(rows.slice(from, to))).execute();
      if (chunks.length === 1) {
        await insert(db, chunks[0]!);
        return;
      }
      await this.dialect.writeTransaction(db, async (trx) => {
        for (const chunk of chunks) await insert(trx, chunk);
      });
    });
  }

  /** [from, to) row ranges, one INSERT each: at most INSERT_CHUNK rows, and within the statement limit. */
  private statementsFor(jobs: StoredJob[]): [number, number][] {
    const limit = this.dialect.statementBytes === undefined ? Number.POSITIVE_INFINITY : this.dialect.statementBytes - STATEMENT_OVERHEAD_BYTES;
    const chunks: [number, number][] = [];
    let from = 0;
    let bytes = 0;
    jobs.forEach((job, i) => {
      const size = limit === Number.POSITIVE_INFINITY ? 0 : escapedBytes(job.payload);
      if (size > limit) {
        throw new QueueError(
          'JOB_NOT_SERIALIZABLE',
          `job ${job.id} is ${size} bytes as sent, over what one statement may carry on ${this.dialect.client} connection '${this.connection}' (${this.dialect.describe}: max_allowed_packet is ${this.dialect.statementBytes}); raise max_allowed_packet on the server, or lower QUEUE_MAX_PAYLOAD_BYTES to match`,
        );
      }
      if (i > from && (i - from >= INSERT_CHUNK || bytes + size > limit)) {
        chunks.push([from, i]);
        from = i;
        bytes = 0;
      }
      bytes += size;
    });
    chunks.push([from, jobs.length]);
    return chunks;
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

  /**
   * Deletes the rows still leased to these tokens. A row that is gone altogether counts as done as
   * well: an ack sent again after its answer was lost finds it deleted by the first.
   */
  private async deleteOwned(rows: OwnedRow[]): Promise<Set<number>> {
    const deleted = await this.dialect.deleteOwned(this.db, this.tables.jobs, rows);
    const kept = rows.filter((row) => !deleted.has(row.id)).map((row) => row.id);
    if (kept.length > 0) {
      const present = await this.db.selectFrom(this.jobs).select('id').where('id', 'in', kept).execute();
      const still = new Set(present.map((row) => Number(row.id)));
      for (const id of kept) if (!still.has(id)) deleted.add(id);
    }
    return deleted;
  }

  ack(reservation: Reservation): Promise<boolean> {
    return this.call('acknowledge a job', () => this.acks.ack({ id: Number(reservation.handle), token: reservation.token }));
  }

  /** Safe to run twice: a row with no lease left was put back already (by the first run), which counts. */
  async release(reservation: Reservation, delaySeconds: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    const id = Number(reservation.handle);
    return this.call('release a job', async (db) => {
      const result = await db
        .updateTable(this.jobs)
        .set({
          available_at: sql<number>`${this.dialect.now()} + ${Math.round(delaySeconds * 1000)}`,
          reserved_by: null,
          ...(options.refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
        })
        .where('id', '=', id)
        .where('reserved_by', '=', reservation.token)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) return true;
      const row = await db.selectFrom(this.jobs).select('reserved_by').where('id', '=', id).executeTakeFirst();
      return row !== undefined && row.reserved_by === null;
    });
  }

  /**
   * Safe to run twice: when the lease is gone and the job with it, a failed record that is exactly
   * this one was stored by a first run whose answer was lost, which counts.
   */
  async fail(reservation: Reservation, failure: Failure): Promise<boolean> {
    return this.call('fail a job', async (db) => {
      const stored = await this.dialect.writeTransaction(db, async (trx) => {
        // The record first, then the removal: nothing is deleted without a terminal record.
        const id = await this.failed.insert(trx, reservation.queue, failure);
        const removed = await trx.deleteFrom(this.jobs).where('id', '=', Number(reservation.handle)).where('reserved_by', '=', reservation.token).executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) {
          // The lease was taken over: the other holder decides this job's fate.
          await trx.deleteFrom(this.tables.failed as 'queue_failed_jobs').where('id', '=', id).execute();
          return false;
        }
        return true;
      });
      if (stored || failure.id === null) return stored;
      const job = await db.selectFrom(this.jobs).select('id').where('id', '=', Number(reservation.handle)).executeTakeFirst();
      return job === undefined && (await this.failed.holds(db, failure));
    });
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

  /**
   * Deletes the waiting rows of a queue: not leased, or whose lease ran out (their worker died).
   * Leased rows are locked by the claim that took them, so the two never overlap: a row is either
   * deleted here or run by its worker.
   */
  async clear(queue: string): Promise<number> {
    const result = await this.call('clear a queue', (db) =>
      db
        .deleteFrom(this.jobs)
        .where('queue', '=', queue)
        .where((eb) => eb.or([eb('reserved_by', 'is', null), eb('available_at', '<=', this.dialect.now())]))
        .executeTakeFirst(),
    );
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

/** A lost or refused connection (mysql2, pg, Node's sockets), as opposed to an error of the statement. */
function isConnectionLoss(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (code !== undefined && UNREACHABLE.has(code)) || /connect|terminat|closed state|Connection lost|server has gone away/i.test(message ?? '');
}

/**
 * What a payload weighs in a MySQL statement: mysql2 escapes quotes, backslashes and control
 * characters with a backslash each, and JSON is full of quotes.
 */
function escapedBytes(payload: string): number {
  let escapes = 0;
  for (let i = 0; i < payload.length; i += 1) {
    const c = payload.charCodeAt(i);
    if (c === 34 || c === 39 || c === 92 || c < 32 || c === 26) escapes += 1;
  }
  return Buffer.byteLength(payload) + escapes;
}
