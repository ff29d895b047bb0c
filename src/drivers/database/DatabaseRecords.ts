/**
 * Job records of the database driver. A job is its row of the jobs table from dispatch until it is
 * pruned: waiting or running while `state` is null (its state then follows from its lease and
 * available_at), a completed or cancelled record once `state` says so (sql/finish.ts makes it one
 * in place). A failure is the failed store's record. Pruning and cleaning delete finished rows only,
 * so they can never touch an unfinished job or a failure.
 */
import { sql, type Kysely } from 'kysely';
import type { CancelOutcome, FinishedState, JobRecord, Keeping, ListOptions, RecordPage, Records } from '../../contract/driver.ts';
import { badCursor, DEFAULT_KEEPING, failedJobRecord, pageLimit, waitingState } from '../../contract/records.ts';
import { cancelSignal } from '../../contract/signals.ts';
import { channelOf } from './channels.ts';
import type { DatabaseFailedStore } from './DatabaseFailedStore.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import type { TableNames, Tables } from './schema.ts';
import { finishRows } from './sql/finish.ts';
import { setSignalIn } from './sql/signals.ts';

type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

/** The columns a record is read from. */
const COLUMNS = ['id', 'job_id', 'queue', 'payload', 'attempts', 'available_at', 'reserved_by', 'started_at', 'progress', 'state', 'result', 'finished_at'] as const;

interface JobRow {
  id: number;
  job_id: string | null;
  queue: string;
  payload: string;
  attempts: number;
  available_at: number;
  reserved_by: string | null;
  started_at: number | null;
  progress: string | null;
  state: string | null;
  result: string | null;
  finished_at: number | null;
  now_ms?: number;
}

export class DatabaseRecords implements Records {
  constructor(
    private readonly connection: string,
    private readonly tables: TableNames,
    private readonly dialect: SqlDialect,
    private readonly call: Call,
    private readonly failed: DatabaseFailedStore,
  ) {}

  private get jobs() {
    return this.tables.jobs as 'queue_jobs';
  }

  /** The NOTIFY channel that tells waiters a job finished (PostgreSQL; see channels.ts). */
  get channel(): string {
    return channelOf(this.tables.jobs, 'done');
  }

  /** Inside a transaction that finishes jobs: tells waiters their ids once it commits (where the database can). */
  async notify(trx: Kysely<Tables>, ids: string[]): Promise<void> {
    if (!this.dialect.notify) return;
    for (const id of ids) await this.dialect.notify(trx, this.channel, JSON.stringify([id]));
  }

  /**
   * In one transaction: a waiting job (ready, delayed, or with a lease that ran out) becomes a
   * cancelled record at once; a reserved one gets the `cancel:<id>` signal its worker acts on.
   */
  async cancel(id: string, keeping: Keeping): Promise<CancelOutcome> {
    const outcome = await this.call('cancel a job', (db) => this.dialect.writeTransaction(db, async (trx) => {
      let pick = trx.selectFrom(this.jobs).select(['id', 'state', 'reserved_by', 'available_at', this.dialect.now().as('now_ms')]).where('job_id', '=', id);
      // The claim passes over a locked row (SKIP LOCKED); SQLite's write lock is the whole file's.
      if (this.dialect.client !== 'sqlite') pick = pick.forUpdate();
      const row = await pick.executeTakeFirst();
      if (!row) return undefined;
      if (row.state !== null) return 'finished';
      if (row.reserved_by !== null && Number(row.available_at) > Number(row.now_ms)) {
        await setSignalIn(trx, this.tables.signals, this.dialect, cancelSignal(id));
        return 'requested';
      }
      await finishRows(trx, this.jobs, [Number(row.id)], 'cancelled', keeping.keepMs, this.dialect.now());
      await this.notify(trx, [id]);
      return 'cancelled';
    }));
    if (outcome) return outcome;
    return (await this.failed.find(id)) ? 'finished' : 'unknown';
  }

  /** Deletes one finished state's records (of a queue, older than `olderThanMs`); failures from the failed store's table. */
  async clean({ state, queue, olderThanMs }: { state: FinishedState; queue?: string; olderThanMs?: number }): Promise<number> {
    const before = olderThanMs === undefined ? undefined : sql<number>`${this.dialect.now()} - ${Math.round(olderThanMs)}`;
    const removed = await this.call('clean job records', (db) => {
      if (state === 'failed') {
        let query = db.deleteFrom(this.tables.failed as 'queue_failed_jobs');
        if (queue !== undefined) query = query.where('queue', '=', queue);
        if (before) query = query.where('failed_at', '<', before);
        return query.executeTakeFirst();
      }
      let query = db.deleteFrom(this.jobs).where('state', '=', state);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (before) query = query.where('finished_at', '<', before);
      return query.executeTakeFirst();
    });
    return Number(removed.numDeletedRows);
  }

  /** Records kept per queue and finished state (completed, cancelled). */
  async countByQueue(): Promise<{ queue: string; state: string; n: number }[]> {
    const rows = await this.call('count job records', (db) =>
      db.selectFrom(this.jobs).select((eb) => ['queue', 'state', eb.fn.countAll<number>().as('n')]).where('state', 'is not', null).groupBy(['queue', 'state']).execute());
    return rows.map((row) => ({ queue: row.queue, state: row.state!, n: Number(row.n) }));
  }

  async find(id: string): Promise<JobRecord | undefined> {
    const row = await this.call('find a job', (db) =>
      db.selectFrom(this.jobs).select([...COLUMNS, this.dialect.now().as('now_ms')]).where('job_id', '=', id).executeTakeFirst());
    if (row) return this.record(row as JobRow);
    const failed = await this.failed.find(id);
    return failed && failedJobRecord(failed);
  }

  async list({ state, queue, limit, cursor }: ListOptions): Promise<RecordPage> {
    const size = pageLimit(limit);
    switch (state) {
      case 'ready':
      case 'delayed':
      case 'reserved':
        return this.listWaiting(state, queue, size, cursor);
      case 'completed':
      case 'cancelled':
      case 'expired':
        return this.listFinished(state, queue, size, cursor);
      case 'failed':
        return this.listFailed(queue, size, cursor);
      case 'blocked':
        return { records: [] };
    }
  }

  /** Unfinished jobs of one state, newest (last stored) first; the cursor is the last row's id. */
  private async listWaiting(state: 'ready' | 'delayed' | 'reserved', queue: string | undefined, limit: number, cursor: string | undefined): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : Number(cursor);
    if (after !== undefined && !Number.isSafeInteger(after)) throw badCursor(cursor!);
    const rows = await this.call('list jobs', (db) => {
      const now = this.dialect.now();
      let query = db.selectFrom(this.jobs).select([...COLUMNS, now.as('now_ms')]).where('state', 'is', null).orderBy('id', 'desc').limit(limit + 1);
      if (state === 'ready') query = query.where('available_at', '<=', now);
      else query = query.where('available_at', '>', now).where('reserved_by', state === 'reserved' ? 'is not' : 'is', null);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (after !== undefined) query = query.where('id', '<', after);
      return query.execute();
    });
    const page = rows.slice(0, limit);
    return { records: page.map((row) => this.record(row as JobRow)), ...(rows.length > limit ? { cursor: String(page.at(-1)!.id) } : {}) };
  }

  /** Finished records of one state, newest first; the cursor is the last one's finish time and row id. */
  private async listFinished(state: 'completed' | 'cancelled' | 'expired', queue: string | undefined, limit: number, cursor: string | undefined): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : keyset(cursor);
    if (after && !Number.isSafeInteger(Number(after.id))) throw badCursor(cursor!);
    const rows = await this.call('list jobs', (db) => {
      let query = db.selectFrom(this.jobs).select(COLUMNS).where('state', '=', state).orderBy('finished_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (after) query = query.where((eb) => eb.or([eb('finished_at', '<', after.at), eb.and([eb('finished_at', '=', after.at), eb('id', '<', Number(after.id))])]));
      return query.execute();
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { records: page.map((row) => this.record(row as JobRow)), ...(rows.length > limit && last ? { cursor: `${Number(last.finished_at)}/${last.id}` } : {}) };
  }

  /** Failures, newest first, from the failed store's table; the cursor is the last one's failure time and id. */
  private async listFailed(queue: string | undefined, limit: number, cursor: string | undefined): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : keyset(cursor);
    const failed = await this.failed.list({ queue, limit: limit + 1, before: after });
    const page = failed.slice(0, limit);
    const last = page.at(-1);
    return { records: page.map(failedJobRecord), ...(failed.length > limit && last ? { cursor: `${last.failedAt}/${last.id}` } : {}) };
  }

  /**
   * Ends as expired the waiting jobs (of `queues`, or all) past their start_by that never started a
   * try, which the claim passes over, in one transaction that lets go of their unique keys and tells
   * their waiters. A look through the start_by index first, so the usual case (none) writes nothing.
   */
  async expireOverdue(db: Kysely<Tables>, keepMs: number, queues?: string[]): Promise<void> {
    const overdue = (from: Kysely<Tables>) => {
      const query = from.selectFrom(this.jobs).select(['id', 'job_id']).where('start_by', '<=', this.dialect.now()).where('state', 'is', null).where('attempts', '=', 0);
      return queues ? query.where('queue', 'in', queues) : query;
    };
    if (!(await overdue(db).limit(1).executeTakeFirst())) return;
    await this.dialect.writeTransaction(db, async (trx) => {
      const rows = await (this.dialect.client === 'sqlite' ? overdue(trx) : overdue(trx).forUpdate().skipLocked()).execute();
      await finishRows(trx, this.jobs, rows.map((row) => Number(row.id)), 'expired', keepMs, this.dialect.now());
      await this.notify(trx, rows.flatMap((row) => (row.job_id === null ? [] : [row.job_id])));
    });
  }

  async prune({ maxPerQueue, keepMs = DEFAULT_KEEPING.keepMs }: { maxPerQueue: number; keepMs?: number }): Promise<number> {
    return this.call('prune job records', async (db) => {
      await this.expireOverdue(db, keepMs);
      const expired = await db.deleteFrom(this.jobs).where('state', 'is not', null).where('expires_at', '<=', this.dialect.now()).executeTakeFirst();
      let pruned = Number(expired.numDeletedRows);
      // A cancel asked of a job that finished before its worker saw the request.
      await db
        .deleteFrom(this.tables.signals as 'queue_signals')
        .where('name', 'like', `${cancelSignal('')}%`)
        .where((eb) => eb.not(eb.exists(eb.selectFrom(this.jobs).select('id').where('state', 'is', null).where('job_id', '=', sql<string>`substr(${sql.ref(`${this.tables.signals}.name`)}, ${cancelSignal('').length + 1})`))))
        .execute();
      const crowded = await db
        .selectFrom(this.jobs)
        .select(['state', 'queue'])
        .where('state', 'is not', null)
        .groupBy(['state', 'queue'])
        .having((eb) => eb.fn.countAll(), '>', maxPerQueue)
        .execute();
      for (const { state, queue } of crowded) {
        // The newest record past the count: it and every older one go.
        const edge = await db
          .selectFrom(this.jobs)
          .select(['finished_at', 'id'])
          .where('state', '=', state)
          .where('queue', '=', queue)
          .orderBy('finished_at', 'desc')
          .orderBy('id', 'desc')
          .limit(1)
          .offset(maxPerQueue)
          .executeTakeFirst();
        if (!edge) continue;
        const at = Number(edge.finished_at);
        const removed = await db
          .deleteFrom(this.jobs)
          .where('state', '=', state)
          .where('queue', '=', queue)
          .where((eb) => eb.or([eb('finished_at', '<', at), eb.and([eb('finished_at', '=', at), eb('id', '<=', Number(edge.id))])]))
          .executeTakeFirst();
        pruned += Number(removed.numDeletedRows);
      }
      return pruned;
    });
  }

  /** A row as its record: a finished one by its state, a waiting one by its lease and time. */
  private record(row: JobRow): JobRecord {
    const finished = row.state !== null;
    const availableAt = Number(row.available_at);
    return {
      id: row.job_id ?? '',
      queue: row.queue,
      connection: this.connection,
      state: finished ? (row.state as JobRecord['state']) : waitingState(row.reserved_by !== null, availableAt, Number(row.now_ms)),
      payload: row.payload,
      attempts: Number(row.attempts),
      result: row.result,
      error: null,
      progress: row.progress,
      availableAt: finished ? null : availableAt,
      startedAt: row.started_at === null ? null : Number(row.started_at),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    };
  }
}

/** A finished-records cursor: `<finished at>/<id>`. */
function keyset(cursor: string): { at: number; id: string } {
  const slash = cursor.indexOf('/');
  const at = Number(cursor.slice(0, slash));
  if (slash < 1 || !Number.isSafeInteger(at)) throw badCursor(cursor);
  return { at, id: cursor.slice(slash + 1) };
}
