/**
 * The claim: takes up to `count` ready or lease-expired rows of one queue and leases them. There is
 * no separate reaper that could race with it: an expired lease is simply a row whose available_at
 * has passed. Each row's lease is sized by its own timeout (or the worker's default).
 *
 * Parameters: queue, count, token, defaultTimeoutMs, marginMs; `now` is the dialect's clock.
 * Served by the index (queue, available_at, id): a range scan that stops after `count` rows.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Tables } from '../schema.ts';

export interface ClaimedRow {
  id: number;
  queue: string;
  payload: string;
  attempts: number;
  available_at: number;
}

export interface ClaimParams {
  queue: string;
  count: number;
  token: string;
  defaultTimeoutMs: number;
  marginMs: number;
}

/**
 * SQLite and PostgreSQL: one UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING, so choosing a
 * row and owning it is a single statement. On PostgreSQL the subquery locks with SKIP LOCKED, so
 * concurrent claims pass over each other's rows instead of waiting.
 */
export async function claimReturning(db: Kysely<Tables>, table: string, p: ClaimParams, now: RawBuilder<number>, skipLocked: boolean): Promise<ClaimedRow[]> {
  const jobs = table as 'queue_jobs';
  const rows = await db
    .updateTable(jobs)
    .set({
      attempts: sql`attempts + 1`,
      reserved_by: p.token,
      available_at: sql`${now} + coalesce(timeout_ms, ${p.defaultTimeoutMs}) + ${p.marginMs}`,
      started_at: now,
    })
    .where('id', 'in', (eb) => {
      const pick = eb.selectFrom(jobs).select('id').where('queue', '=', p.queue).where('available_at', '<=', now).orderBy('available_at').orderBy('id').limit(p.count);
      return skipLocked ? pick.forUpdate().skipLocked() : pick;
    })
    .returning(['id', 'queue', 'payload', 'attempts', 'available_at'])
    .execute();
  return normalize(rows);
}

/**
 * MySQL and MariaDB have no UPDATE ... RETURNING: in one transaction, SELECT ... FOR UPDATE SKIP
 * LOCKED the rows (and the clock), then lease them by id. The UPDATE names the primary key as its
 * index: once the ids are a large part of a small table (a queue near its end) the optimizer
 * prefers scanning the whole table, which locks every row until commit, and every other worker's
 * claim then skips them all and finds nothing.
 */
export async function claimSelectForUpdate(
  db: Kysely<Tables>,
  table: string,
  p: ClaimParams,
  now: RawBuilder<number>,
  transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>,
): Promise<ClaimedRow[]> {
  const jobs = table as 'queue_jobs';
  return transaction(async (trx) => {
    const picked = await trx
      .selectFrom(jobs)
      .select(['id', 'queue', 'payload', 'attempts', 'timeout_ms', now.as('now_ms')])
      .where('queue', '=', p.queue)
      .where('available_at', '<=', now)
      .orderBy('available_at')
      .orderBy('id')
      .limit(p.count)
      .forUpdate()
      .skipLocked()
      .execute();
    if (picked.length === 0) return [];
    const at = Number(picked[0]!.now_ms);
    await sql`
      update ${sql.table(jobs)} force index (primary)
      set attempts = attempts + 1, reserved_by = ${p.token}, started_at = ${at}, available_at = ${at} + coalesce(timeout_ms, ${p.defaultTimeoutMs}) + ${p.marginMs}
      where id in (${sql.join(picked.map((row) => row.id))})
    `.execute(trx);
    return normalize(picked.map((row) => ({
      ...row,
      attempts: Number(row.attempts) + 1,
      available_at: at + (row.timeout_ms === null ? p.defaultTimeoutMs : Number(row.timeout_ms)) + p.marginMs,
    })));
  });
}

/** Drivers return BIGINT as strings (pg) or numbers: make them numbers, in queue order. */
function normalize(rows: { id: number | string; queue: string; payload: string; attempts: number | string; available_at: number | string }[]): ClaimedRow[] {
  return rows
    .map((row) => ({ id: Number(row.id), queue: row.queue, payload: row.payload, attempts: Number(row.attempts), available_at: Number(row.available_at) }))
    .sort((a, b) => a.id - b.id);
}
