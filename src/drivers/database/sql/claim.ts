/**
 * The claim: takes up to `count` ready or lease-expired rows of one queue and leases them in a
 * single UPDATE ... RETURNING, so there is no window between choosing a row and owning it, and no
 * separate reaper that could race with it: an expired lease is simply a row whose available_at
 * has passed. Each row's lease is sized by its own timeout (or the worker's default).
 *
 * Parameters: queue, now (ms), count, token, defaultTimeoutMs, marginMs.
 * Served by the index (queue, available_at, id): a range scan that stops after `count` rows.
 */
import { sql, type Kysely } from 'kysely';
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
  now: number;
  count: number;
  token: string;
  defaultTimeoutMs: number;
  marginMs: number;
}

export async function claimJobs(db: Kysely<Tables>, table: string, p: ClaimParams): Promise<ClaimedRow[]> {
  const jobs = table as 'queue_jobs';
  const rows = await db
    .updateTable(jobs)
    .set({
      attempts: sql`attempts + 1`,
      reserved_by: p.token,
      available_at: sql`${p.now} + coalesce(timeout_ms, ${p.defaultTimeoutMs}) + ${p.marginMs}`,
    })
    .where('id', 'in', (eb) =>
      eb.selectFrom(jobs).select('id').where('queue', '=', p.queue).where('available_at', '<=', p.now).orderBy('available_at').orderBy('id').limit(p.count),
    )
    .returning(['id', 'queue', 'payload', 'attempts', 'available_at'])
    .execute();
  // RETURNING has no order: restore the queue's.
  return rows.sort((a, b) => a.id - b.id);
}
