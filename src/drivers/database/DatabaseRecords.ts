/**
 * Job records of the database driver. An unfinished job is its row in the jobs table (its state
 * follows from its lease and available_at); a completed one is a row of the finished-jobs table,
 * written in the ack's transaction; a failure is the failed store's record. Pruning deletes rows of
 * the finished-jobs table only, so it can never touch an unfinished job or a failure.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { CancelOutcome, FinishedState, JobRecord, Keeping, ListOptions, RecordPage, Records } from '../../contract/driver.ts';
import { cancelSignal } from '../../contract/signals.ts';
import { setSignalIn } from './sql/signals.ts';
import { badCursor, failedJobRecord, pageLimit, waitingState } from '../../contract/records.ts';
import type { DatabaseFailedStore } from './DatabaseFailedStore.ts';
import type { SqlDialect, TakenRow } from './dialects/dialect.ts';
import type { FinishedJobsTable, TableNames, Tables } from './schema.ts';

type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

interface JobRow {
  job_id: string | null;
  queue: string;
  payload: string;
  attempts: number;
  available_at: number;
  reserved_by: string | null;
  started_at: number | null;
  progress: string | null;
  now_ms: number;
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

  private get finished() {
    return this.tables.finished as 'queue_finished_jobs';
  }

  /**
   * The NOTIFY channel that tells waiters a job finished (PostgreSQL): named after the jobs table,
   * so connections on other tables hear nothing of these.
   */
  get channel(): string {
    const name = `${this.tables.jobs}_done`;
    return name.length <= 63 ? name : `queue_done_${createHash('sha1').update(this.tables.jobs).digest('hex').slice(0, 16)}`;
  }

  /** Inside a transaction that finishes jobs: tells waiters their ids once it commits (where the database can). */
  async notify(trx: Kysely<Tables>, ids: string[]): Promise<void> {
    if (!this.dialect.notify || ids.length === 0) return;
    // A NOTIFY payload holds under 8,000 bytes.
    for (let start = 0; start < ids.length;) {
      let end = start + 1;
      let bytes = ids[start]!.length;
      while (end < ids.length && bytes + ids[end]!.length + 4 < 7_000) bytes += ids[end++]!.length + 4;
      await this.dialect.notify(trx, this.channel, JSON.stringify(ids.slice(start, end)));
      start = end;
    }
  }

  /**
   * Inside the transaction that took the rows: the records, in `state`, of those that keep one (a
   * row written by hand, without a job id, has none). A record of the same id is replaced.
   */
  async keep(trx: Kysely<Tables>, state: 'completed' | 'cancelled', taken: TakenRow[], keeping: Map<number, Keeping & { result?: string | null }>): Promise<void> {
    const rows = taken.filter((row) => row.job_id !== null && keeping.has(row.id));
    if (rows.length === 0) return;
    const now = this.dialect.now();
    await this.dialect.replaceRecords(trx
      .insertInto(this.finished)
      .values(rows.map((row) => {
        const { result, keepMs } = keeping.get(row.id)!;
        return {
          id: row.job_id!, queue: row.queue, state, payload: row.payload, result: result ?? null, progress: row.progress, attempts: row.attempts,
          started_at: row.started_at, finished_at: now, expires_at: sql<number>`${now} + ${Math.round(keepMs)}`,
        };
      })))
      .execute();
  }

  /**
   * In one transaction: a waiting job (ready, delayed, or with a lease that ran out) is deleted and
   * recorded cancelled; a reserved one gets the `cancel:<id>` signal its worker acts on.
   */
  async cancel(id: string, keeping: Keeping): Promise<CancelOutcome> {
    const outcome = await this.call('cancel a job', (db) => this.dialect.writeTransaction(db, async (trx) => {
      let pick = trx
        .selectFrom(this.jobs)
        .select(['id', 'job_id', 'queue', 'payload', 'attempts', 'started_at', 'progress', 'reserved_by', 'available_at', this.dialect.now().as('now_ms')])
        .where('job_id', '=', id);
      // The claim passes over a locked row (SKIP LOCKED); SQLite's write lock is the whole file's.
      if (this.dialect.client !== 'sqlite') pick = pick.forUpdate();
      const row = await pick.executeTakeFirst();
      if (!row) {
        const done = await trx.selectFrom(this.finished).select('id').where('id', '=', id).executeTakeFirst();
        return done ? 'finished' : undefined;
      }
      if (row.reserved_by !== null && Number(row.available_at) > Number(row.now_ms)) {
        await setSignalIn(trx, this.tables.signals, this.dialect, cancelSignal(id));
        return 'requested';
      }
      const rowId = Number(row.id);
      await trx.deleteFrom(this.jobs).where('id', '=', rowId).execute();
      const taken: TakenRow = { id: rowId, job_id: id, queue: row.queue, payload: row.payload, attempts: Number(row.attempts), started_at: row.started_at === null ? null : Number(row.started_at), progress: row.progress };
      await this.keep(trx, 'cancelled', [taken], new Map([[rowId, keeping]]));
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
      let query = db.deleteFrom(this.finished).where('state', '=', state);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (before) query = query.where('finished_at', '<', before);
      return query.executeTakeFirst();
    });
    return Number(removed.numDeletedRows);
  }

  /** Records kept per queue and finished state (completed, cancelled, expired). */
  async countByQueue(): Promise<{ queue: string; state: string; n: number }[]> {
    const rows = await this.call('count job records', (db) =>
      db.selectFrom(this.finished).select((eb) => ['queue', 'state', eb.fn.countAll<number>().as('n')]).groupBy(['queue', 'state']).execute());
    return rows.map((row) => ({ queue: row.queue, state: row.state, n: Number(row.n) }));
  }

  async find(id: string): Promise<JobRecord | undefined> {
    const found = await this.call('find a job', async (db) => {
      const row = await db
        .selectFrom(this.jobs)
        .select(['job_id', 'queue', 'payload', 'attempts', 'available_at', 'reserved_by', 'started_at', 'progress', this.dialect.now().as('now_ms')])
        .where('job_id', '=', id)
        .executeTakeFirst();
      if (row) return this.waiting(row as JobRow);
      const done = await db.selectFrom(this.finished).selectAll().where('id', '=', id).executeTakeFirst();
      return done && this.done(done);
    });
    if (found) return found;
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
      let query = db
        .selectFrom(this.jobs)
        .select(['id', 'job_id', 'queue', 'payload', 'attempts', 'available_at', 'reserved_by', 'started_at', 'progress', now.as('now_ms')])
        .orderBy('id', 'desc')
        .limit(limit + 1);
      if (state === 'ready') query = query.where('available_at', '<=', now);
      else query = query.where('available_at', '>', now).where('reserved_by', state === 'reserved' ? 'is not' : 'is', null);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (after !== undefined) query = query.where('id', '<', after);
      return query.execute();
    });
    const page = rows.slice(0, limit);
    return {
      records: page.map((row) => this.waiting(row as JobRow)),
      ...(rows.length > limit ? { cursor: String(page.at(-1)!.id) } : {}),
    };
  }

  /** Finished records of one state, newest first; the cursor is the last one's finish time and id. */
  private async listFinished(state: 'completed' | 'cancelled' | 'expired', queue: string | undefined, limit: number, cursor: string | undefined): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : keyset(cursor);
    const rows = await this.call('list jobs', (db) => {
      let query = db.selectFrom(this.finished).selectAll().where('state', '=', state).orderBy('finished_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      if (after) query = query.where((eb) => eb.or([eb('finished_at', '<', after.at), eb.and([eb('finished_at', '=', after.at), eb('id', '<', after.id)])]));
      return query.execute();
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { records: page.map((row) => this.done(row)), ...(rows.length > limit && last ? { cursor: `${Number(last.finished_at)}/${last.id}` } : {}) };
  }

  /** Failures, newest first, from the failed store's table; the cursor is as for finished records. */
  private async listFailed(queue: string | undefined, limit: number, cursor: string | undefined): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : keyset(cursor);
    const failed = await this.failed.list({ queue, limit: limit + 1, before: after });
    const page = failed.slice(0, limit);
    const last = page.at(-1);
    return { records: page.map(failedJobRecord), ...(failed.length > limit && last ? { cursor: `${last.failedAt}/${last.id}` } : {}) };
  }

  async prune({ maxPerQueue }: { maxPerQueue: number }): Promise<number> {
    return this.call('prune job records', async (db) => {
      const expired = await db.deleteFrom(this.finished).where('expires_at', '<=', this.dialect.now()).executeTakeFirst();
      // A cancel asked of a job that finished before its worker saw the request.
      await db
        .deleteFrom(this.tables.signals as 'queue_signals')
        .where('name', 'like', `${cancelSignal('')}%`)
        .where((eb) => eb.not(eb.exists(eb.selectFrom(this.jobs).select('id').where('job_id', '=', sql<string>`substr(${sql.ref(`${this.tables.signals}.name`)}, ${cancelSignal('').length + 1})`))))
        .execute();
      let pruned = Number(expired.numDeletedRows);
      const crowded = await db
        .selectFrom(this.finished)
        .select(['state', 'queue'])
        .groupBy(['state', 'queue'])
        .having((eb) => eb.fn.countAll(), '>', maxPerQueue)
        .execute();
      for (const { state, queue } of crowded) {
        // The newest record past the count: it and every older one go.
        const edge = await db
          .selectFrom(this.finished)
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
          .deleteFrom(this.finished)
          .where('state', '=', state)
          .where('queue', '=', queue)
          .where((eb) => eb.or([eb('finished_at', '<', at), eb.and([eb('finished_at', '=', at), eb('id', '<=', edge.id)])]))
          .executeTakeFirst();
        pruned += Number(removed.numDeletedRows);
      }
      return pruned;
    });
  }

  private waiting(row: JobRow): JobRecord {
    const availableAt = Number(row.available_at);
    const state = waitingState(row.reserved_by !== null, availableAt, Number(row.now_ms));
    return {
      id: row.job_id ?? '',
      queue: row.queue,
      connection: this.connection,
      state,
      payload: row.payload,
      attempts: Number(row.attempts),
      result: null,
      error: null,
      progress: row.progress,
      availableAt,
      startedAt: row.started_at === null ? null : Number(row.started_at),
      finishedAt: null,
    };
  }

  private done(row: FinishedJobsTable): JobRecord {
    return {
      id: row.id,
      queue: row.queue,
      connection: this.connection,
      state: row.state as JobRecord['state'],
      payload: row.payload,
      attempts: Number(row.attempts),
      result: row.result,
      error: null,
      progress: row.progress,
      availableAt: null,
      startedAt: row.started_at === null ? null : Number(row.started_at),
      finishedAt: Number(row.finished_at),
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
