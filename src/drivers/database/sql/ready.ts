/**
 * When a row of the jobs table is ready: the claim could take it now. Due (available_at is the end
 * of its delay, of a release's backoff, or of the lease of a worker that died: one range for all
 * three), and not past its start_by without a try (that one ends `expired` instead: see
 * sql/claim.ts). A finished record never is: its available_at is FINISHED_AT_END.
 *
 * Parameters: `now` is the dialect's clock.
 */
import { sql, type RawBuilder } from 'kysely';

export function readyAt(now: RawBuilder<number>): RawBuilder<boolean> {
  return sql<boolean>`available_at <= ${now} and (start_by is null or start_by > ${now} or attempts > 0)`;
}
