/** Failed jobs of the database driver: rows of `queue_failed_jobs`, newest first. */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { failedJobNotFound } from '../../errors.ts';
import { encodeEnvelope, withFreshTries } from '../../jobs/envelope.ts';
import { timeoutMsOf } from '../../jobs/settings.ts';
import type { FailedJob, FailedStore, Failure } from '../../contract/driver.ts';
import { channelOf } from './channels.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import type { FailedJobsTable, TableNames, Tables } from './schema.ts';
import type { FailedRecords } from './sql/fail.ts';

type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

export class DatabaseFailedStore implements FailedStore {
  constructor(
    private readonly connection: string,
    private readonly tables: TableNames,
    private readonly dialect: SqlDialect,
    private readonly call: Call,
  ) {}

  private get table() {
    return this.tables.failed as 'queue_failed_jobs';
  }

  /** How sql/fail.ts stores, and finds again, the record of one failure of a job of `queue`. */
  recordsOf(queue: string, failure: Failure): FailedRecords {
    return {
      table: this.table,
      insert: (trx) => this.insert(trx, queue, failure),
      holds: (db) => this.holds(db, failure),
    };
  }

  /** Inserts a record inside the caller's transaction; returns its id. */
  private async insert(trx: Kysely<Tables>, queue: string, failure: Failure): Promise<string> {
    let id = failure.id ?? randomUUID();
    // A payload can claim any id (or a job can fail twice if a lease was lost): never overwrite.
    const taken = await trx.selectFrom(this.table).select('id').where('id', '=', id).executeTakeFirst();
    if (taken) id = randomUUID();
    await trx
      .insertInto(this.table)
      .values({ id, connection: this.connection, queue, job: failure.job, payload: failure.payload, exception: failure.error, failed_at: this.dialect.now() })
      .execute();
    return id;
  }

  /** Whether this very failure is on record (stored by a first run whose answer was lost). */
  private async holds(db: Kysely<Tables>, failure: Failure): Promise<boolean> {
    if (failure.id === null) return false;
    const row = await db.selectFrom(this.table).select('id').where('id', '=', failure.id).where('exception', '=', failure.error).where('payload', '=', failure.payload).executeTakeFirst();
    return row !== undefined;
  }

  /** Newest first; with `before`, those that failed before that record (a page of the failed state). */
  async list({ queue, limit, before }: { queue?: string; limit?: number; before?: { at: number; id: string } } = {}): Promise<FailedJob[]> {
    const rows = await this.call('list failed jobs', (db) => {
      let query = db.selectFrom(this.table).selectAll().orderBy('failed_at', 'desc').orderBy('id', 'desc');
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (before) query = query.where((eb) => eb.or([eb('failed_at', '<', before.at), eb.and([eb('failed_at', '=', before.at), eb('id', '<', before.id)])]));
      if (limit !== undefined) query = query.limit(limit);
      return query.execute();
    });
    return rows.map(toFailedJob);
  }

  async find(id: string): Promise<FailedJob | undefined> {
    const row = await this.call('find a failed job', (db) => db.selectFrom(this.table).selectAll().where('id', '=', id).executeTakeFirst());
    return row && toFailedJob(row);
  }

  async forget(id: string): Promise<boolean> {
    const result = await this.call('forget a failed job', (db) => db.deleteFrom(this.table).where('id', '=', id).executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }

  async flush({ olderThanMs }: { olderThanMs?: number } = {}): Promise<number> {
    const result = await this.call('delete failed jobs', (db) => {
      let query = db.deleteFrom(this.table);
      if (olderThanMs !== undefined) query = query.where('failed_at', '<', sql<number>`${this.dialect.now()} - ${Math.round(olderThanMs)}`);
      return query.executeTakeFirst();
    });
    return Number(result.numDeletedRows);
  }

  async retry(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    return this.moveBack((trx) => trx.selectFrom(this.table).selectAll().where('id', 'in', unique).execute(), unique);
  }

  async retryAll({ queue }: { queue?: string } = {}): Promise<string[]> {
    return this.moveBack((trx) => {
      let query = trx.selectFrom(this.table).selectAll().orderBy('failed_at');
      if (queue !== undefined) query = query.where('queue', '=', queue);
      return query.execute();
    });
  }

  /**
   * In one transaction: every selected record goes back on its queue, or none does; at its commit
   * idle workers of those queues hear of them (PostgreSQL).
   */
  private moveBack(select: (trx: Kysely<Tables>) => Promise<FailedJobsTable[]>, expected?: string[]): Promise<string[]> {
    return this.call('retry failed jobs', (db) => this.dialect.writeTransaction(db, async (trx) => {
      const rows = await select(trx);
      if (expected) {
        const found = new Set(rows.map((row) => row.id));
        const missing = expected.filter((id) => !found.has(id));
        if (missing.length > 0) throw failedJobNotFound(missing);
      }
      const now = this.dialect.now();
      for (const row of rows) {
        const envelope = withFreshTries(row.payload, row.id);
        await trx
          .insertInto(this.tables.jobs as 'queue_jobs')
          .values({
            job_id: envelope.id,
            queue: row.queue,
            payload: encodeEnvelope(envelope),
            attempts: 0,
            timeout_ms: timeoutMsOf(envelope),
            available_at: now,
            reserved_by: null,
            created_at: now,
            // Back in its place among its queue's priorities (an envelope of before priorities has none).
            ...(envelope.priority ? { priority: envelope.priority } : {}),
          })
          .execute();
      }
      if (rows.length > 0) await trx.deleteFrom(this.table).where('id', 'in', rows.map((row) => row.id)).execute();
      for (const queue of new Set(rows.map((row) => row.queue))) await this.dialect.notify?.(trx, channelOf(this.tables.jobs, 'ready'), queue);
      return rows.map((row) => row.id);
    }));
  }

  async countByQueue(): Promise<{ queue: string; failed: number }[]> {
    const rows = await this.call('count failed jobs', (db) => db.selectFrom(this.table).select((eb) => ['queue', eb.fn.countAll<number>().as('n')]).groupBy('queue').execute());
    return rows.map((row) => ({ queue: row.queue, failed: Number(row.n) }));
  }
}

function toFailedJob(row: FailedJobsTable): FailedJob {
  return {
    id: row.id,
    connection: row.connection,
    queue: row.queue,
    job: row.job,
    payload: row.payload,
    error: row.exception,
    failedAt: Number(row.failed_at),
  };
}
