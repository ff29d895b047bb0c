/**
 * The start of held rows (DatabaseHolding): each counts its try and gets its full lease (its
 * timeout and the margin), and lets go of a key held `until: 'start'`, as the claim does for the
 * rows it starts (startingTry in claim.ts). The try is set to the one it is, rather than one added:
 * a start applied twice (sent again after its answer was lost) counts it once. Only rows still held
 * by their tokens start; a hold that ran out (and went to another worker) changes nothing.
 *
 * Parameters: per row (id, token, the try it is); the lease; `now` is the dialect's clock.
 * Returns the ids started.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { SqlDialect, StartRow } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';
import { startingTry, type TryLease } from './claim.ts';

export function startHeld(db: Kysely<Tables>, dialect: SqlDialect, table: string, rows: StartRow[], lease: TryLease): Promise<Set<number>> {
  return dialect.updateOwned(db, table, rows, starting(rows, dialect.now(), lease));
}

/** The SET of the start: startingTry() with each row's own try (a CASE only where they differ). */
export function starting(rows: StartRow[], now: RawBuilder<number>, lease: TryLease): RawBuilder<unknown> {
  const tries = new Set(rows.map((row) => row.attempts));
  const attempts = tries.size === 1 ? sql<number>`${[...tries][0]!}` : sql<number>`case id ${sql.join(rows.map((row) => sql`when ${row.id} then ${row.attempts}`), sql` `)} else attempts end`;
  return startingTry(attempts, now, lease);
}
