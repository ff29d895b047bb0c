/**
 * The release: a leased row is made available again after `delayMs`, by the holder of its lease
 * only; with `refundAttempt` its try is given back (the worker handed it back unfinished).
 *
 * Safe to run twice: when no row is updated, a waiting row with no lease left was put back already
 * (by a first run whose answer was lost), which counts as released.
 *
 * Parameters: row id, lease token, delay ms, refund; `now` is the dialect's clock.
 *
 * giveBackHeld() is the release of held rows their holder will not start (DatabaseHolding): their
 * try was never counted, so there is nothing to refund, and they go back to the front of their
 * queue: available since they were created, ahead of every row of their priority pushed after them
 * (the claim orders by available_at), where a release puts a row behind the ones waiting.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { OwnedRow, SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

export async function releaseOwned(db: Kysely<Tables>, table: string, now: RawBuilder<number>, id: number, token: string, delayMs: number, refundAttempt: boolean): Promise<boolean> {
  const jobs = table as 'queue_jobs';
  const result = await db
    .updateTable(jobs)
    .set({
      available_at: sql<number>`${now} + ${Math.max(0, Math.round(delayMs))}`,
      reserved_by: null,
      ...(refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
    })
    .where('id', '=', id)
    .where('reserved_by', '=', token)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) return true;
  // Put back already, not made a finished record (a cancel) since.
  const row = await db.selectFrom(jobs).select(['reserved_by', 'state']).where('id', '=', id).executeTakeFirst();
  return row !== undefined && row.reserved_by === null && row.state === null;
}

/** The SET of a give-back: no lease, and available since the row was created. */
export const GIVEN_BACK: RawBuilder<unknown> = sql`reserved_by = null, available_at = created_at`;

/** Gives held rows back untouched, by the holders of their leases only (a given-back hold that ran out changes nothing). */
export async function giveBackHeld(db: Kysely<Tables>, dialect: SqlDialect, table: string, rows: OwnedRow[]): Promise<void> {
  await dialect.updateOwned(db, table, rows, GIVEN_BACK);
}
