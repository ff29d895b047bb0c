/**
 * The claim: takes up to `count` ready or lease-expired rows of one queue, highest priority first
 * and FIFO within one, and leases them. There is no separate reaper that could race with it: an
 * expired lease is simply a row whose available_at has passed. Each row's lease is sized by its own
 * timeout (or the worker's default).
 *
 * Served by the index (queue, priority desc, available_at, id), in three arms: the rows above
 * priority 0, those at 0, those below, each an index range that stops after `count` rows. The arm
 * at 0 is a range on available_at (as one index on (queue, available_at, id) served it before
 * priorities), so a queue that uses none pays two empty seeks more; the arms beside it scan their
 * own rows only: a queue's waiting rows of one priority that are not yet due, and nothing else
 * (a finished record's priority is 0, its available_at past every range).
 *
 * A picked row past its `start_by` that never started a try is not leased: the same statement ends
 * it `expired` (a record kept `expiredKeepMs`), as a finish would, and lets go of its unique key. A
 * row leased here lets go of a key held `until: 'start'`.
 *
 * Parameters: queue, count, token, defaultTimeoutMs, marginMs, expiredKeepMs; `now` is the
 * dialect's clock; on PostgreSQL, the channel told of expired jobs.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Tables } from '../schema.ts';
import { finishedColumns } from './finished.ts';

export interface ClaimedRow {
  id: number;
  job_id: string | null;
  queue: string;
  payload: string;
  attempts: number;
  available_at: number;
  priority: number;
  /** True for a row the claim ended as expired instead of leasing it. */
  expired: boolean;
}

export interface ClaimParams {
  queue: string;
  count: number;
  token: string;
  defaultTimeoutMs: number;
  marginMs: number;
  /** How long the record of a job the claim expires is kept, ms. */
  expiredKeepMs: number;
}

/** A row that never started a try and whose start_by has passed: it is never leased again. */
const PAST_START_BY = (now: RawBuilder<number>) => sql`(start_by is not null and start_by <= ${now} and attempts = 0)`;

/** The three arms, each `count` rows at most, in claim order once merged by (priority desc, available_at, id). */
function arms(table: string, p: ClaimParams, now: RawBuilder<number>, lock: boolean, columns: RawBuilder<unknown>) {
  const locking = lock ? sql` for update skip locked` : sql``;
  const arm = (band: RawBuilder<unknown>) =>
    sql`select ${columns} from ${sql.table(table)} where queue = ${p.queue} and ${band} and available_at <= ${now} order by priority desc, available_at, id limit ${p.count}${locking}`;
  return [arm(sql`priority > 0`), arm(sql`priority = 0`), arm(sql`priority < 0`)];
}

/**
 * The SET of a claimed row: leased, or, past its start_by, finished as `expired` (the columns a
 * finish sets); `at` is the claim's clock.
 */
function leasing(p: ClaimParams, at: RawBuilder<number>) {
  const expired = PAST_START_BY(at);
  const leased: Record<string, RawBuilder<unknown>> = {
    reserved_by: sql`${p.token}`,
    available_at: sql`${at} + coalesce(timeout_ms, ${p.defaultTimeoutMs}) + ${p.marginMs}`,
    started_at: at,
    attempts: sql`attempts + 1`,
    unique_key: sql`case when unique_on_start = 1 then null else unique_key end`,
  };
  const finished = new Map(finishedColumns('expired', sql`null`, sql`${p.expiredKeepMs}`, at));
  // MySQL evaluates a SET left to right, each CASE seeing the columns set before it: the try
  // count, which the expiry test reads, is set last.
  const columns = [...new Set([...finished.keys(), ...Object.keys(leased)])].filter((column) => column !== 'attempts').concat('attempts');
  return sql.join(columns.map((column) => {
    const ifExpired = finished.get(column) ?? sql.ref(column);
    const ifLeased = leased[column] ?? sql.ref(column);
    return sql`${sql.ref(column)} = case when ${expired} then ${ifExpired} else ${ifLeased} end`;
  }));
}

/**
 * SQLite and PostgreSQL: one UPDATE ... WHERE id IN (the first `count` of the arms) RETURNING, so
 * choosing a row and owning it is a single statement. On PostgreSQL each arm locks with SKIP LOCKED,
 * so concurrent claims pass over each other's rows instead of waiting, and the statement tells
 * `channel` the ids of the jobs it expired.
 */
export async function claimReturning(db: Kysely<Tables>, table: string, p: ClaimParams, now: RawBuilder<number>, skipLocked: boolean, channel?: string): Promise<ClaimedRow[]> {
  const [above, at, below] = arms(table, p, now, skipLocked, sql`id, priority, available_at`);
  const picked = sql`select id from (select * from (${above}) a union all select * from (${at}) z union all select * from (${below}) b) u order by priority desc, available_at, id limit ${p.count}`;
  const update = sql`update ${sql.table(table)} set ${leasing(p, now)} where id in (${picked}) returning id, job_id, queue, payload, attempts, available_at, priority, state`;
  const query = channel === undefined
    ? update
    : sql`with claimed as (${update}), told as (select pg_notify(${channel}, json_build_array(c.job_id)::text) from claimed c where c.state = 'expired' and c.job_id is not null)
          select c.*, (select count(*) from told) as told from claimed c`;
  const { rows } = await query.execute(db);
  return normalize(rows as RawRow[]);
}

/**
 * MySQL and MariaDB have no UPDATE ... RETURNING: in one transaction, SELECT ... FOR UPDATE SKIP
 * LOCKED the rows of the arms (and the clock), then lease the first `count` by id. The UPDATE names
 * the primary key as its index: once the ids are a large part of a small table (a queue near its
 * end) the optimizer prefers scanning the whole table, which locks every row until commit, and
 * every other worker's claim then skips them all and finds nothing.
 */
export async function claimSelectForUpdate(
  db: Kysely<Tables>,
  table: string,
  p: ClaimParams,
  now: RawBuilder<number>,
  transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>,
): Promise<ClaimedRow[]> {
  const columns = sql`id, job_id, queue, payload, attempts, available_at, priority, timeout_ms, start_by, ${now} as now_ms`;
  const [above, at, below] = arms(table, p, now, true, columns);
  return transaction(async (trx) => {
    const { rows: locked } = await sql<RawRow & { timeout_ms: number | null; start_by: number | null; now_ms: number }>`(${above}) union all (${at}) union all (${below})`.execute(trx);
    if (locked.length === 0) return [];
    const first = [...locked].sort((a, b) => Number(b.priority) - Number(a.priority) || Number(a.available_at) - Number(b.available_at) || Number(a.id) - Number(b.id)).slice(0, p.count);
    const picked = normalize(first.map((row) => ({ ...row, state: null })));
    const clock = Number(locked[0]!.now_ms);
    const ids = sql.join(picked.map((row) => row.id));
    await sql`update ${sql.table(table)} force index (primary) set ${leasing(p, sql<number>`${clock}`)} where id in (${ids})`.execute(trx);
    const byId = new Map(locked.map((row) => [Number(row.id), row]));
    return picked.map((row) => {
      const { timeout_ms: timeout, start_by: startBy } = byId.get(row.id)!;
      const expired = startBy !== null && Number(startBy) <= clock && row.attempts === 0;
      return expired
        ? { ...row, expired }
        : { ...row, expired, attempts: row.attempts + 1, available_at: clock + (timeout === null ? p.defaultTimeoutMs : Number(timeout)) + p.marginMs };
    });
  });
}

interface RawRow {
  id: number | string;
  job_id: string | null;
  queue: string;
  payload: string;
  attempts: number | string;
  available_at: number | string;
  priority: number | string;
  state: string | null;
}

/** Drivers return BIGINT as strings (pg) or numbers: make them numbers, in claim order (priority, then storage order). */
function normalize(rows: RawRow[]): ClaimedRow[] {
  return rows
    .map((row) => ({
      id: Number(row.id),
      job_id: row.job_id,
      queue: row.queue,
      payload: row.payload,
      attempts: Number(row.attempts),
      available_at: Number(row.available_at),
      priority: Number(row.priority),
      expired: row.state === 'expired',
    }))
    .sort((a, b) => b.priority - a.priority || a.id - b.id);
}
