/**
 * The push: INSERT of new job rows, skipping rows whose job_id is already stored (a push sent again
 * after a dropped connection stores nothing twice). A bulk is split into statements of at most
 * INSERT_CHUNK rows (SQLite's bound-parameter limit; ARRAY_CHUNK where rows go as arrays) and,
 * where the server caps one statement (MySQL's max_allowed_packet), of at most that many bytes as
 * sent; several statements go in one transaction, so a bulk is still all or nothing. On
 * PostgreSQL each INSERT also tells idle workers the queues of its jobs (see tellingReady).
 *
 * Parameters: the jobs; the dialect (its clock, its skip clause, its statement limit).
 */
import { sql, type ExpressionBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { Pushed, StoredJob } from '../../../contract/driver.ts';
import { QueueError } from '../../../errors.ts';
import { channelOf } from '../channels.ts';
import type { JobsInsert, SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

/** Rows per INSERT: SQLite binds at most 32,766 parameters, and a row here takes at most 14. */
const INSERT_CHUNK = 500;
/** Rows per INSERT from arrays (PostgreSQL): a bulk of a few thousand is one statement, no transaction. */
const ARRAY_CHUNK = 5_000;
/** What splits a text column's values where they go as one string (arrayOf). */
const LINE_FEED = '\n';
/** Room left in a statement for its SQL text and one row's other columns. */
const STATEMENT_OVERHEAD_BYTES = 64 * 1024;

/**
 * Stores `jobs`; returns what it did with each. `db` is the driver's (the push takes its own
 * transaction where it needs one) or, with `inTransaction`, the application's transaction.
 *
 * A push of unique jobs is first sent as a plain push that stores every row or none
 * (insert.storesEvery): when no row collides with a stored one (the usual case, keys nobody holds)
 * it is done, in the statements a plain push takes. Otherwise pushUnique frees holds that ran out,
 * replaces, and names each duplicate's holder, as it would have alone; the first try stored
 * nothing, so the rows go in in their order (FIFO within a priority). The first try runs alone,
 * outside a transaction, where its one statement stores all or nothing by itself (insert.atomic);
 * else in the transaction pushUnique would take; one job it did not store is most often a duplicate
 * of a holder stored before (settledAlone). A push with a `replace` job (a debounce, whose key is
 * usually held) goes to pushUnique at once. What that costs against a plain push:
 * docs/performance.md.
 */
export async function insertJobs(db: Kysely<Tables>, table: string, jobs: StoredJob[], dialect: SqlDialect, connection: string, inTransaction = false): Promise<Pushed[]> {
  const insert = inserter(table, jobs, dialect, connection, inTransaction);
  if (!jobs.some((job) => job.unique)) {
    // Where a collision may fail the INSERT (failsAtCollision), it goes first without its skip
    // clause, which costs PostgreSQL a fifth of a bulk's time (dialect.failureAborts); failed, it
    // stored nothing (a push sent again) and goes again with the clause.
    if (insert.failsAtCollision && insert.atomic && (await insert.storesEvery(db))) return everyStored(jobs);
    if (insert.chunks.length === 1 || inTransaction) await insert.all(db);
    else await dialect.writeTransaction(db, insert.all);
    return everyStored(jobs);
  }
  const tryPlain = !jobs.some((job) => job.unique?.replace);
  const unique = (trx: Kysely<Tables>) => pushUnique(trx, table, jobs, dialect, insert.all);
  const push = async (trx: Kysely<Tables>) => (tryPlain && (await insert.storesEvery(trx)) ? everyStored(jobs) : unique(trx));
  if (inTransaction) return push(db);
  if (!tryPlain || !insert.atomic) return dialect.writeTransaction(db, push);
  if (await insert.storesEvery(db)) return everyStored(jobs);
  // It stored nothing.
  const settled = jobs.length === 1 ? await settledAlone(db, table, jobs[0]!, dialect) : undefined;
  return settled ? [settled] : dialect.writeTransaction(db, unique);
}

/** A row's hold on its unique key is live: its job has not finished, and the hold has not run out by `now`. */
function liveHold(eb: ExpressionBuilder<Tables, 'queue_jobs'>, now: RawBuilder<number>) {
  return eb.and([eb('state', 'is', null), eb.or([eb('unique_lapses_at', 'is', null), eb('unique_lapses_at', '>', now)])]);
}

/**
 * What became of one unique job whose INSERT collided, when one read without a lock can tell: it
 * is stored (a push sent again), or the job that holds its key now (not lapsed, not finished) is
 * its holder, as it was when the INSERT met it. Undefined otherwise (a hold ran out, or its holder
 * let go of it since): pushUnique decides. A duplicate pushed one at a time takes two statements,
 * where pushUnique's transaction takes five.
 */
async function settledAlone(db: Kysely<Tables>, table: string, job: StoredJob, dialect: SqlDialect): Promise<Pushed | undefined> {
  const key = job.unique!.key;
  const rows = await db.selectFrom(table as 'queue_jobs').select(['job_id', 'unique_key']).where('queue', '=', job.queue)
    .where((eb) => eb.or([
      eb('job_id', '=', job.id),
      eb.and([eb('unique_key', '=', key), liveHold(eb, dialect.now())]),
    ]))
    .execute();
  if (rows.some((row) => row.job_id === job.id)) return { id: job.id, duplicate: false };
  const holder = rows.find((row) => row.unique_key === key)?.job_id;
  return holder ? { id: holder, duplicate: true } : undefined;
}

function everyStored(jobs: StoredJob[]): Pushed[] {
  return jobs.map((job) => ({ id: job.id, duplicate: false }));
}

/**
 * One column of a push's rows: a value per job, bound as is or, `fromNow`, as an offset in ms from
 * the database's clock (null stays null). Columns a push leaves out take their defaults: a plain
 * push sends what it sent before priorities, expiry and unique jobs.
 */
interface Column {
  name: 'job_id' | 'queue' | 'payload' | 'timeout_ms' | 'available_at' | 'priority' | 'start_by' | 'unique_key' | 'unique_lapses_at' | 'unique_on_start';
  /** The element type of its array parameter (PostgreSQL). */
  type: 'text' | 'bigint' | 'integer' | 'smallint';
  values: (string | number | null)[];
  fromNow?: true;
}

function columnsOf(jobs: StoredJob[]): Column[] {
  const ms = (value: number | undefined) => (value === undefined ? null : Math.max(0, Math.round(value)));
  const columns: Column[] = [
    { name: 'job_id', type: 'text', values: jobs.map((job) => job.id) },
    { name: 'queue', type: 'text', values: jobs.map((job) => job.queue) },
    { name: 'payload', type: 'text', values: jobs.map((job) => job.payload) },
    { name: 'timeout_ms', type: 'bigint', values: jobs.map((job) => job.timeoutMs) },
    { name: 'available_at', type: 'bigint', values: jobs.map((job) => ms(job.delayMs)), fromNow: true },
  ];
  if (jobs.some((job) => job.priority)) columns.push({ name: 'priority', type: 'integer', values: jobs.map((job) => job.priority ?? 0) });
  if (jobs.some((job) => job.expireInMs !== undefined)) columns.push({ name: 'start_by', type: 'bigint', values: jobs.map((job) => ms(job.expireInMs)), fromNow: true });
  if (jobs.some((job) => job.unique)) columns.push({ name: 'unique_key', type: 'text', values: jobs.map((job) => job.unique?.key ?? null) });
  if (jobs.some((job) => job.unique?.forMs !== undefined)) columns.push({ name: 'unique_lapses_at', type: 'bigint', values: jobs.map((job) => ms(job.unique?.forMs)), fromNow: true });
  if (jobs.some((job) => job.unique?.until === 'start')) columns.push({ name: 'unique_on_start', type: 'smallint', values: jobs.map((job) => (job.unique?.until === 'start' ? 1 : null)) });
  return columns;
}

/**
 * The INSERTs of a push: its rows, split into statements (see statementsFor). Where the database
 * binds arrays (PostgreSQL), a statement selects its rows from one array parameter per column
 * (arrayOf), so its text and plan are the same for 1 job or 5,000: rows as a VALUES list of 500
 * rows, 3,500 parameters, stored 10,000 jobs a second; from arrays, 35,000 to 48,000 (20,000 jobs
 * in bulks of 1,000, this machine), and 52,000 to 56,000 once the text columns went as strings.
 */
function inserter(table: string, jobs: StoredJob[], dialect: SqlDialect, connection: string, inTransaction: boolean) {
  const now = dialect.now();
  const columns = columnsOf(jobs);
  const names = [...columns.map((column) => column.name), 'created_at' as const];
  const fromNow = (value: unknown) => sql<number>`${now} + ${value}`;
  /** Rows from..to; `skip`: made to skip a row that collides with a stored one (dialect.skipCollisions). */
  const statement = (into: Kysely<Tables>, from: number, to: number, skip = true): JobsInsert => {
    const skipping = (insert: JobsInsert) => (skip ? dialect.skipCollisions(insert) : insert);
    const insert = into.insertInto(table as 'queue_jobs');
    if (dialect.bindsArrays) {
      const arrays = columns.map((column) => arrayOf(column, column.values.slice(from, to)));
      const selected = columns.map((column) => (column.fromNow ? fromNow(sql.ref(column.name)) : sql.ref(column.name)));
      const rows = sql`select ${sql.join([...selected, now])} from unnest(${sql.join(arrays)}) as r(${sql.join(columns.map((column) => sql.ref(column.name)))})`;
      return skipping(insert.columns(names).expression(rows));
    }
    const rows = [];
    for (let i = from; i < to; i += 1) {
      const row: Record<string, unknown> = { created_at: now };
      for (const column of columns) {
        const value = column.values[i];
        row[column.name] = column.fromNow && value !== null ? fromNow(value) : value;
      }
      rows.push(row);
    }
    return skipping(insert.values(rows as never));
  };
  const chunks = statementsFor(jobs, dialect, connection);
  const queues = [...new Set(jobs.map((job) => job.queue))];
  const channel = channelOf(table, 'ready');
  /** Sends an INSERT; on PostgreSQL it tells idle workers in the same statement. */
  const send = (into: Kysely<Tables>, insert: JobsInsert) => (dialect.notify ? tellingReady(insert, queues, channel) : insert).execute(into);
  /** The INSERTs that must tell whether they stored every row go without the skip clause, and a collision fails them (dialect.isCollision). */
  const failsAtCollision = dialect.isCollision !== undefined && (!dialect.failureAborts || jobs.length > 1);
  // A statement that fails at a collision, not where a failure would abort the application's
  // transaction: there a savepoint goes first (storesEvery).
  const atomic = chunks.length === 1 && (jobs.length === 1 || (failsAtCollision && !(dialect.failureAborts && inTransaction)));
  /**
   * Runs the INSERTs, each made to tell whether it stored every one of its rows; true when all
   * did. False at the first that did not: failsAtCollision, it failed and stored nothing; else it
   * stored the rows that did not collide. The statements after it are not sent.
   */
  const storedEach = async (into: Kysely<Tables>): Promise<boolean> => {
    for (const [from, to] of chunks) {
      if (failsAtCollision) {
        try {
          await send(into, statement(into, from, to, false));
        } catch (error) {
          if (dialect.isCollision!(error)) return false;
          throw error;
        }
        continue;
      }
      const insert = statement(into, from, to);
      const stored = dialect.notify
        ? (await countingReady(insert, queues, channel).execute(into)).rows[0]?.stored
        : (await insert.executeTakeFirst()).numInsertedOrUpdatedRows;
      if (Number(stored) !== to - from) return false;
    }
    return true;
  };
  return {
    chunks,
    all: async (into: Kysely<Tables>) => {
      for (const [from, to] of chunks) await send(into, statement(into, from, to));
    },
    /**
     * True when the push is one statement that stores all of its rows or none by itself, and may
     * run where it is (alone, or in the application's transaction): one row, or failsAtCollision.
     */
    atomic,
    failsAtCollision,
    /**
     * The same INSERTs, made to tell whether they stored every row: resolves true when they did.
     * False when a row collided with a stored one, having stored none: where the push is not
     * atomic, `into` is a transaction and the INSERTs run after a savepoint they roll back to.
     */
    storesEvery: async (into: Kysely<Tables>): Promise<boolean> => {
      if (atomic) return storedEach(into);
      await sql`savepoint queue_push`.execute(into);
      const every = await storedEach(into);
      if (!every) await sql`rollback to savepoint queue_push`.execute(into);
      // Released either way: PostgreSQL keeps each savepoint a subtransaction until then, and many
      // pushes in one of the application's transactions would pile them up.
      await sql`release savepoint queue_push`.execute(into);
      return every;
    },
  };
}

/**
 * One column's values as an array parameter (PostgreSQL). Text goes as one string the server splits
 * at each line feed, where no value holds one or is empty or null (a payload is JSON, which escapes
 * every control character, and queue names refuse them; such a column keeps the array): pg would
 * send an array literal, escaping each element with two regular-expression passes, which were 40%
 * of a bulk's CPU in this process (the payloads are full of quotes), and the server would parse it.
 */
function arrayOf(column: Column, values: Column['values']): RawBuilder<unknown> {
  if (column.type === 'text' && values.every((value) => typeof value === 'string' && value !== '' && !value.includes(LINE_FEED))) {
    return sql`string_to_array(${values.join(LINE_FEED)}, chr(10))`;
  }
  return sql`${values}::${sql.raw(column.type)}[]`;
}

/**
 * PostgreSQL tells idle workers (JobWaiter) the queues of the jobs of a push: a NOTIFY on `channel`
 * (channels.ts) per queue, not per job, in the INSERT's own statement (no round trip more), sent at
 * commit, so a push rolled back (pushIn, in the application's transaction) tells nobody; a push sent
 * again that stored nothing wakes workers for nothing, once. The statements of one bulk tell the
 * same, which PostgreSQL sends once. (In a WITH, an INSERT of a VALUES list of 1,000 rows ran at
 * three quarters of its speed; one from arrays runs at its full speed.)
 */
function tellingReady(insert: JobsInsert, queues: string[], channel: string) {
  return sql`with stored as (${insert}) select pg_notify(${channel}, q) from unnest(${queues}::text[]) as q`;
}

/** The same, answering how many rows the INSERT stored (it skips those that collide). */
function countingReady(insert: JobsInsert, queues: string[], channel: string) {
  return sql<{ stored: string }>`with stored as (${insert.returning(sql<number>`1`.as('one'))}), told as (select pg_notify(${channel}, q) from unnest(${queues}::text[]) as q) select (select count(*) from stored) as stored, (select count(*) from told) as told`;
}

/**
 * A push with unique jobs, inside one transaction: per queue, holds that ran out (or that a finished
 * row still names) are let go of, holders that a `replace` job may replace (not started, not a job
 * of this push) are removed, then every row is inserted skipping collisions, and who holds each key
 * tells stored from duplicate.
 * Concurrent pushes of one key meet at the unique index: the second INSERT waits for the first to
 * commit, then skips its row, and reads the holder.
 */
async function pushUnique(trx: Kysely<Tables>, table: string, jobs: StoredJob[], dialect: SqlDialect, insertAll: (trx: Kysely<Tables>) => Promise<void>): Promise<Pushed[]> {
  const jobsTable = table as 'queue_jobs';
  const now = dialect.now();
  const lock = dialect.client !== 'sqlite';
  const byQueue = new Map<string, StoredJob[]>();
  for (const job of jobs) if (job.unique) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
  const replaced = new Map<string, string>();
  for (const [queue, held] of byQueue) {
    const keys = [...new Set(held.map((job) => job.unique!.key))];
    // A hold that ran out is free, and so is one a finished row still names (a worker of the release
    // before unique jobs finished it without letting go).
    await trx.updateTable(jobsTable).set({ unique_key: null }).where('queue', '=', queue).where('unique_key', 'in', keys)
      .where((eb) => eb.not(liveHold(eb, now))).execute();
    const replacing = [...new Set(held.filter((job) => job.unique!.replace).map((job) => job.unique!.key))];
    if (replacing.length === 0) continue;
    let waiting = trx.selectFrom(jobsTable).select(['id', 'job_id', 'unique_key'])
      .where('queue', '=', queue).where('unique_key', 'in', replacing).where('state', 'is', null).where('attempts', '=', 0).where('reserved_by', 'is', null)
      .where('job_id', 'not in', held.map((job) => job.id));
    if (lock) waiting = waiting.forUpdate();
    const holders = await waiting.execute();
    if (holders.length === 0) continue;
    await trx.deleteFrom(jobsTable).where('id', 'in', holders.map((row) => Number(row.id))).execute();
    for (const row of holders) replaced.set(`${queue}\n${row.unique_key}`, row.job_id!);
  }
  for (let round = 1; ; round += 1) {
    await insertAll(trx);
    const outcomes = await outcomesOf(trx, jobsTable, jobs, byQueue, replaced, lock);
    if (outcomes) return outcomes;
    // A job skipped, yet neither stored nor a holder of its key in sight: the holder let go of it
    // between the INSERT and the look (a start, on PostgreSQL's read committed). Its key is free now.
    if (round === 3) throw new QueueError('BACKEND_UNAVAILABLE', `the unique keys of this push kept changing hands while it was stored; push it again`);
  }
}

/** Per job: stored, or the duplicate of the key's holder; undefined when a skipped job's holder is gone. */
async function outcomesOf(trx: Kysely<Tables>, jobsTable: 'queue_jobs', jobs: StoredJob[], byQueue: Map<string, StoredJob[]>, replaced: Map<string, string>, lock: boolean): Promise<Pushed[] | undefined> {
  const stored = new Set<string>();
  const holderOf = new Map<string, string>();
  for (const [queue, held] of byQueue) {
    let query = trx.selectFrom(jobsTable).select(['job_id', 'unique_key']).where('queue', '=', queue)
      .where((eb) => eb.or([eb('job_id', 'in', held.map((job) => job.id)), eb('unique_key', 'in', held.map((job) => job.unique!.key))]));
    if (lock) query = query.forUpdate();
    for (const row of await query.execute()) {
      if (row.job_id === null) continue;
      stored.add(row.job_id);
      if (row.unique_key !== null) holderOf.set(`${queue}\n${row.unique_key}`, row.job_id);
    }
  }
  const outcomes: Pushed[] = [];
  for (const job of jobs) {
    const slot = job.unique && `${job.queue}\n${job.unique.key}`;
    if (!slot || stored.has(job.id)) {
      const gone = slot ? replaced.get(slot) : undefined;
      outcomes.push(gone === undefined ? { id: job.id, duplicate: false } : { id: job.id, duplicate: false, replaced: gone });
      continue;
    }
    const holder = holderOf.get(slot);
    if (holder === undefined) return undefined;
    outcomes.push({ id: holder, duplicate: true });
  }
  return outcomes;
}

/** [from, to) row ranges, one INSERT each. */
function statementsFor(jobs: StoredJob[], dialect: SqlDialect, connection: string): [number, number][] {
  const limit = dialect.statementBytes === undefined ? Number.POSITIVE_INFINITY : dialect.statementBytes - STATEMENT_OVERHEAD_BYTES;
  const rowsPerStatement = dialect.bindsArrays ? ARRAY_CHUNK : INSERT_CHUNK;
  const chunks: [number, number][] = [];
  let from = 0;
  let bytes = 0;
  jobs.forEach((job, i) => {
    const size = limit === Number.POSITIVE_INFINITY ? 0 : escapedBytes(job.payload);
    if (size > limit) {
      throw new QueueError(
        'JOB_NOT_SERIALIZABLE',
        `job ${job.id} is ${size} bytes as sent, over what one statement may carry on ${dialect.client} connection '${connection}' (${dialect.describe}: max_allowed_packet is ${dialect.statementBytes}); raise max_allowed_packet on the server, or lower QUEUE_MAX_PAYLOAD_BYTES to match`,
      );
    }
    if (i > from && (i - from >= rowsPerStatement || bytes + size > limit)) {
      chunks.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += size;
  });
  chunks.push([from, jobs.length]);
  return chunks;
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
