/**
 * The claim: takes up to `count` ready or lease-expired rows of one queue, highest priority first
 * and FIFO within one, and leases them. There is no separate reaper that could race with it: an
 * expired lease is simply a row whose available_at has passed. Each row's lease is sized by its own
 * timeout (or the worker's default).
 *
 * Served by the index (queue, priority desc, available_at, id), in three arms: the rows above
 * priority 0, those at 0, those below, each an index range that stops after `count` rows. The arm
 * at 0 is a range on available_at (as one index on (queue, available_at, id) served it before
 * priorities), so a queue that uses none pays two empty seeks more; on PostgreSQL and SQLite the
 * arms beside it scan their own rows only: a queue's waiting rows of one priority that are not yet
 * due, and nothing else (a finished record's priority is 0, its available_at past every range).
 * MariaDB may read the rows above an arm's band too (see claimSelectForUpdate).
 *
 * A row past its `start_by` that never started a try is passed over (it ends `expired` by
 * DatabaseRecords.expireOverdue, when a claim finds its queue empty or at the next prune): ending it
 * here, with a CASE per column, cost SQLite at c=1 an eighth of its speed. A row leased here lets go
 * of a key held `until: 'start'`.
 *
 * With `holdMs` the claim holds the rows instead (a worker that holds jobs ahead, DatabaseHolding):
 * leased for `holdMs` only, its try not counted and its key kept; startingTry() does the rest when
 * the holder starts it. A held row's `attempts` is then the try it will be.
 *
 * Parameters: queue, count, token, defaultTimeoutMs, marginMs, holdMs; `now` is the dialect's clock.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Tables } from '../schema.ts';
import { readyAt } from './ready.ts';

export interface ClaimedRow {
  id: number;
  queue: string;
  payload: string;
  attempts: number;
  available_at: number;
  priority: number;
}

/** How long a try's lease is: the row's own timeout (or this default) and the margin, ms. */
export interface TryLease {
  defaultTimeoutMs: number;
  marginMs: number;
}

export interface ClaimParams extends TryLease {
  queue: string;
  count: number;
  token: string;
  /** Hold the rows for this long, their try not yet counted (see the header); absent: start them. */
  holdMs?: number;
}

/** The three arms, each `limit` rows at most, in claim order once merged by (priority desc, available_at, id). */
function arms(table: string, p: ClaimParams, now: RawBuilder<number>, lock: boolean, columns: RawBuilder<unknown>, limit = p.count) {
  const locking = lock ? sql` for update skip locked` : sql``;
  const arm = (band: RawBuilder<unknown>) => sql`select ${columns} from ${sql.table(table)}
    where queue = ${p.queue} and ${band} and ${readyAt(now)}
    order by priority desc, available_at, id limit ${limit}${locking}`;
  return [arm(sql`priority > 0`), arm(sql`priority = 0`), arm(sql`priority < 0`)];
}

/**
 * The SET of a row whose try starts at `at`: counted as try `attempts`, leased until its timeout and
 * the margin, and a key held `until: 'start'` let go of. The claim's, and a held row's start.
 */
export function startingTry(attempts: RawBuilder<number>, at: RawBuilder<number>, lease: TryLease) {
  return sql`attempts = ${attempts}, available_at = ${at} + coalesce(timeout_ms, ${lease.defaultTimeoutMs}) + ${lease.marginMs},
    started_at = ${at}, unique_key = case when unique_on_start = 1 then null else unique_key end`;
}

/** The SET of a claimed row: its try started, or only held (see the header); `at` is the claim's clock. */
function leasing(p: ClaimParams, at: RawBuilder<number>) {
  if (p.holdMs !== undefined) return sql`reserved_by = ${p.token}, available_at = ${at} + ${p.holdMs}`;
  return sql`reserved_by = ${p.token}, ${startingTry(sql`attempts + 1`, at, p)}`;
}

/** What a claimed row's attempts column says, to the try it is: a held row's try is counted at its start. */
function tryOf(p: Pick<ClaimParams, 'holdMs'>, attempts: number): number {
  return p.holdMs === undefined ? attempts : attempts + 1;
}

/**
 * SQLite and PostgreSQL: one UPDATE ... WHERE id IN (the first `count` of the arms) RETURNING, so
 * choosing a row and owning it is a single statement. On PostgreSQL each arm locks with SKIP LOCKED,
 * so concurrent claims pass over each other's rows instead of waiting.
 */
export async function claimReturning(db: Kysely<Tables>, table: string, p: ClaimParams, now: RawBuilder<number>, skipLocked: boolean): Promise<ClaimedRow[]> {
  const { rows } = await claimQuery(table, p, now, skipLocked).execute(db);
  return claimedRows(rows, p);
}

/**
 * SQLite and PostgreSQL: the claim's one statement, UPDATE ... RETURNING the claimed rows as stored
 * (see claimedRows).
 *
 * On PostgreSQL (`skipLocked`) the arms are read in their order and no further than the claim needs:
 * the UNION ALL runs its parts one after another (a plan that locks rows is never parallel) and the
 * LIMIT stops it, so an arm below one that filled the claim is not read and locks nothing. Sorted
 * as a whole, all three ran to their own limits and locked up to three times the rows taken, rows
 * the other workers' claims then had to pass over: with a third of the jobs each at priority 5, 0
 * and -1, four workers at c=4 drained 12,000 jobs at 4,650 jobs/s sorted and 5,060 to 5,140 read in
 * order (6,000 to 6,200 with every job at 0, either way; test/bench/profile/claim-bands.ts). EXPLAIN
 * ANALYZE shows the arms after one that filled the claim "never executed".
 */
export function claimQuery(table: string, p: ClaimParams, now: RawBuilder<number>, skipLocked: boolean): RawBuilder<RawRow> {
  const [above, at, below] = arms(table, p, now, skipLocked, sql`id, priority, available_at`);
  const inOrder = skipLocked ? sql`` : sql` order by priority desc, available_at, id`;
  const picked = sql`select id from (select * from (${above}) a union all select * from (${at}) z union all select * from (${below}) b) u${inOrder} limit ${p.count}`;
  return sql<RawRow>`update ${sql.table(table)} set ${leasing(p, now)} where id in (${picked}) returning id, queue, payload, attempts, available_at, priority`;
}

/** The rows claimQuery() returned, in claim order, each with the try it is. */
export function claimedRows(rows: RawRow[], p: Pick<ClaimParams, 'holdMs'>): ClaimedRow[] {
  return normalize(rows).map((row) => ({ ...row, attempts: tryOf(p, row.attempts) }));
}

/**
 * MySQL and MariaDB have no UPDATE ... RETURNING: in one transaction, SELECT ... FOR UPDATE SKIP
 * LOCKED the rows of the arms above 0 and at 0 (and the clock), then, only when those are fewer
 * than `count`, the rest from the arm below 0; then lease the first `count` by id.
 *
 * The arm below 0 is a statement of its own because it is costly on MariaDB: each arm locks what
 * it reads until the commit (rows the other workers' claims must skip), and the optimizer serves
 * `priority < 0` by the queue's part of the index alone, reading every row above the band (waiting,
 * leased and the finished records) before the first below it. With a third of the jobs each at
 * priority 5, 0 and -1, four workers at c=4 drained 12,000 jobs at 690 jobs/s with the three arms
 * in one statement and 1,560 to 1,615 with this (2,300 to 2,450 with every job at 0, where this
 * costs nothing: the first statement fills the claim). Locking the arm at 0 only after the arm
 * above would save a little more on queues with priorities above 0, at a round trip on every claim
 * of a plain queue.
 *
 * The UPDATE names the primary key as its index: once the ids are a large part of a small table (a
 * queue near its end) the optimizer prefers scanning the whole table, which locks every row until
 * commit, and every other worker's claim then skips them all and finds nothing.
 */
export async function claimSelectForUpdate(
  db: Kysely<Tables>,
  table: string,
  p: ClaimParams,
  now: RawBuilder<number>,
  transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>,
): Promise<ClaimedRow[]> {
  const columns = sql`id, queue, payload, attempts, available_at, priority, timeout_ms, ${now} as now_ms`;
  const [above, at] = arms(table, p, now, true, columns);
  type Locked = RawRow & { timeout_ms: number | null; now_ms: number };
  return transaction(async (trx) => {
    const { rows: locked } = await sql<Locked>`(${above}) union all (${at})`.execute(trx);
    if (locked.length < p.count) {
      const below = arms(table, p, now, true, columns, p.count - locked.length)[2]!;
      locked.push(...(await below.execute(trx)).rows as Locked[]);
    }
    if (locked.length === 0) return [];
    const first = [...locked].sort((a, b) => Number(b.priority) - Number(a.priority) || Number(a.available_at) - Number(b.available_at) || Number(a.id) - Number(b.id)).slice(0, p.count);
    const clock = Number(locked[0]!.now_ms);
    await sql`update ${sql.table(table)} force index (primary) set ${leasing(p, sql<number>`${clock}`)} where id in (${sql.join(first.map((row) => row.id))})`.execute(trx);
    const leaseMs = (row: { timeout_ms: number | null }) => p.holdMs ?? ((row.timeout_ms === null ? p.defaultTimeoutMs : Number(row.timeout_ms)) + p.marginMs);
    // Read before the UPDATE: the try it is once counted, whether the claim counts it or a start will.
    return normalize(first.map((row) => ({ ...row, attempts: Number(row.attempts) + 1, available_at: clock + leaseMs(row) })));
  });
}

/**
 * The rows of `queues` that a claim under `token` leased and still holds, in claim order: what that
 * claim, made again (its first answer was lost with the connection), hands out instead of leasing
 * more. Rare, and not served by an index beyond the queue: a claim's token is in no index.
 */
export async function claimedBefore(db: Kysely<Tables>, table: string, queues: string[], token: string, p: Pick<ClaimParams, 'holdMs'>): Promise<ClaimedRow[]> {
  const { rows } = await sql<RawRow>`select id, queue, payload, attempts, available_at, priority from ${sql.table(table)}
    where queue in (${sql.join(queues)}) and reserved_by = ${token} and state is null`.execute(db);
  return claimedRows(rows, p);
}

/** A claimed row as the database returns it (pg gives BIGINT as a string). */
export interface RawRow {
  id: number | string;
  queue: string;
  payload: string;
  attempts: number | string;
  available_at: number | string;
  priority: number | string;
}

/** Drivers return BIGINT as strings (pg) or numbers: make them numbers, in claim order (priority, then storage order). */
function normalize(rows: RawRow[]): ClaimedRow[] {
  return rows
    .map((row) => ({
      id: Number(row.id),
      queue: row.queue,
      payload: row.payload,
      attempts: Number(row.attempts),
      available_at: Number(row.available_at),
      priority: Number(row.priority),
    }))
    .sort((a, b) => b.priority - a.priority || a.id - b.id);
}
