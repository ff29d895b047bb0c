/**
 * The clear: deletes the waiting rows of a queue: not leased, or whose lease ran out (their worker
 * died); never a finished record. Leased rows are locked by the claim that took them, so the two never overlap: a row is
 * either deleted here or run by its worker.
 *
 * Parameters: queue; `now` is the dialect's clock.
 */
import type { Kysely, RawBuilder } from 'kysely';
import type { Tables } from '../schema.ts';

export async function clearWaiting(db: Kysely<Tables>, table: string, now: RawBuilder<number>, queue: string): Promise<number> {
  const result = await db
    .deleteFrom(table as 'queue_jobs')
    .where('queue', '=', queue)
    .where('state', 'is', null)
    .where((eb) => eb.or([eb('reserved_by', 'is', null), eb('available_at', '<=', now)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
