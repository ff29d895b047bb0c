/**
 * Per queue: ready (due, or with a lease that ran out), delayed and reserved rows, by the dialect's
 * clock; one grouped scan of the jobs table (its finished records aside). Failed counts come from the failed store.
 */
import type { Kysely, RawBuilder } from 'kysely';
import type { Tables } from '../schema.ts';

export interface QueueCounts {
  queue: string;
  ready: number;
  delayed: number;
  reserved: number;
}

export async function countByQueue(db: Kysely<Tables>, table: string, now: RawBuilder<number>): Promise<QueueCounts[]> {
  const rows = await db
    .selectFrom(table as 'queue_jobs')
    .select((eb) => [
      'queue',
      eb.fn.sum<number>(eb.case().when('available_at', '<=', now).then(1).else(0).end()).as('ready'),
      eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is', null)])).then(1).else(0).end()).as('delayed'),
      eb.fn.sum<number>(eb.case().when(eb.and([eb('available_at', '>', now), eb('reserved_by', 'is not', null)])).then(1).else(0).end()).as('reserved'),
    ])
    .where('state', 'is', null)
    .groupBy('queue')
    .execute();
  return rows.map((row) => ({ queue: row.queue, ready: Number(row.ready), delayed: Number(row.delayed), reserved: Number(row.reserved) }));
}
