/**
 * The `database` driver: jobs as rows of one table, claimed by an UPDATE that leases them (see
 * sql/claim.ts). Every ack, release and fail names the row and its lease token, so a worker whose
 * lease was taken over changes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Driver, Failure, QueueStats, Reservation, ReserveOptions, StoredJob, WorkerSignals } from '../../queue/driver.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import { DatabaseFailedStore } from './DatabaseFailedStore.ts';
import { migrate, type MigrationResult } from './migrations.ts';
import type { TableNames, Tables } from './schema.ts';
import { claimJobs } from './sql/claim.ts';

const RESTART = 'restart';
const PAUSED = 'paused:';

export interface DatabaseDriverOptions {
  /** Create the tables on first use (SQLite); other databases need `queue migrate`. */
  autoMigrate: boolean;
}

export class DatabaseDriver implements Driver {
  readonly failed: DatabaseFailedStore;
  private readonly db: Kysely<Tables>;
  private migrated: Promise<unknown> | undefined;

  constructor(
    readonly connection: string,
    private readonly dialect: SqlDialect,
    private readonly tables: TableNames,
    private readonly options: DatabaseDriverOptions,
  ) {
    this.db = dialect.connect();
    this.failed = new DatabaseFailedStore(connection, tables, () => this.ready(), dialect);
  }

  private get jobs() {
    return this.tables.jobs as 'queue_jobs';
  }

  private get signalTable() {
    return this.tables.signals as 'queue_signals';
  }

  /** Creates or updates the tables. Idempotent. */
  migrate(): Promise<MigrationResult> {
    return migrate(this.db, this.tables);
  }

  private async ready(): Promise<Kysely<Tables>> {
    if (this.options.autoMigrate) {
      this.migrated ??= this.migrate().catch((error) => {
        this.migrated = undefined;
        throw error;
      });
      await this.migrated;
    }
    return this.db;
  }

  async push(jobs: StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const db = await this.ready();
    const now = Date.now();
    const rows = jobs.map((job) => ({
      job_id: job.id,
      queue: job.queue,
      payload: job.payload,
      attempts: 0,
      timeout_ms: job.timeout === null ? null : Math.ceil(job.timeout * 1000),
      available_at: now + Math.max(0, Math.round(job.delayMs)),
      reserved_by: null,
      created_at: now,
    }));
    // One INSERT is atomic; chunks stay under SQLite's bound-parameter limit, in one transaction.
    const chunk = 500;
    if (rows.length <= chunk) {
      await db.insertInto(this.jobs).values(rows).execute();
      return;
    }
    await this.dialect.writeTransaction(db, async (trx) => {
      for (let i = 0; i < rows.length; i += chunk) await trx.insertInto(this.jobs).values(rows.slice(i, i + chunk)).execute();
    });
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    const db = await this.ready();
    const token = randomUUID();
    for (const queue of queues) {
      const rows = await claimJobs(db, this.tables.jobs, {
        queue,
        now: Date.now(),
        count: options.count,
        token,
        defaultTimeoutMs: Math.ceil(options.defaultTimeout * 1000),
        marginMs: Math.ceil(options.leaseMargin * 1000),
      });
      if (rows.length > 0) {
        return rows.map((row) => ({
          handle: String(row.id),
          queue: row.queue,
          payload: row.payload,
          attempts: Number(row.attempts),
          token,
          leaseExpiresAt: Number(row.available_at),
        }));
      }
    }
    return [];
  }

  async ack(reservation: Reservation): Promise<boolean> {
    const db = await this.ready();
    const result = await db.deleteFrom(this.jobs).where('id', '=', Number(reservation.handle)).where('reserved_by', '=', reservation.token).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async release(reservation: Reservation, delaySeconds: number): Promise<boolean> {
    const db = await this.ready();
    const result = await db
      .updateTable(this.jobs)
      .set({ available_at: Date.now() + Math.round(delaySeconds * 1000), reserved_by: null })
      .where('id', '=', Number(reservation.handle))
      .where('reserved_by', '=', reservation.token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async fail(reservation: Reservation, failure: Failure): Promise<boolean> {
    const db = await this.ready();
    return this.dialect.writeTransaction(db, async (trx) => {
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
  }

  async size(queue: string): Promise<number> {
    const db = await this.ready();
    const row = await db.selectFrom(this.jobs).select((eb) => eb.fn.countAll<number>().as('n')).where('queue', '=', queue).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async stats(): Promise<QueueStats[]> {
    const db = await this.ready();
    const now = Date.now();
    const rows = await db
      .selectFrom(this.jobs)
      .select((eb) => [
        'queue',
        eb.fn.sum<number>(eb.case().when('available_at', '<=', now).then(1).else(0).end()).as('ready'),
        eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is', null)])).then(1).else(0).end()).as('delayed'),
        eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is not', null)])).then(1).else(0).end()).as('reserved'),
      ])
      .groupBy('queue')
      .execute();
    const byQueue = new Map<string, QueueStats>();
    for (const row of rows) {
      byQueue.set(row.queue, { queue: row.queue, ready: Number(row.ready), delayed: Number(row.delayed), reserved: Number(row.reserved), failed: 0 });
    }
    for (const { queue, failed } of await this.failed.countByQueue()) {
      const stats = byQueue.get(queue) ?? { queue, ready: 0, delayed: 0, reserved: 0, failed: 0 };
      stats.failed = failed;
      byQueue.set(queue, stats);
    }
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }

  async clear(queue: string): Promise<number> {
    const db = await this.ready();
    const result = await db.deleteFrom(this.jobs).where('queue', '=', queue).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async signals(): Promise<WorkerSignals> {
    const db = await this.ready();
    const rows = await db.selectFrom(this.signalTable).select(['name', 'value']).execute();
    let restartRequestedAt: number | null = null;
    const paused: string[] = [];
    for (const row of rows) {
      if (row.name === RESTART) restartRequestedAt = Number(row.value);
      else if (row.name.startsWith(PAUSED)) paused.push(row.name.slice(PAUSED.length));
    }
    return { restartRequestedAt, paused };
  }

  requestRestart(): Promise<void> {
    return this.setSignal(RESTART, Date.now());
  }

  pause(queue: string): Promise<void> {
    return this.setSignal(PAUSED + queue, Date.now());
  }

  async resume(queue: string): Promise<void> {
    const db = await this.ready();
    await db.deleteFrom(this.signalTable).where('name', '=', PAUSED + queue).execute();
  }

  private async setSignal(name: string, value: number): Promise<void> {
    const db = await this.ready();
    await db
      .insertInto(this.signalTable)
      .values({ name, value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
