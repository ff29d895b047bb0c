/**
 * Batched acknowledgement: deletes the rows whose lease is still held by the given tokens, in one
 * statement (one commit, one disk flush for the whole batch), and reports which ones it deleted so
 * a lost lease is still told apart from a done job.
 *
 * Parameters: (id, token) pairs. DELETE ... WHERE (id, reserved_by) IN ((?, ?), ...) RETURNING id.
 * The dialect picks deleteOwnedReturning or deleteOwnedLocking; withGoneRows then counts a row that
 * is gone altogether as done too: an ack sent again after its answer was lost finds it deleted.
 */
import { sql, type Kysely } from 'kysely';
import type { OwnedRow } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';


export async function deleteOwnedReturning(db: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<Set<number>> {
  const deleted = await db
    .deleteFrom(table as 'queue_jobs')
    .where((eb) => eb(eb.refTuple('id', 'reserved_by'), 'in', rows.map((row) => eb.tuple(row.id, row.token))))
    .returning('id')
    .execute();
  return new Set(deleted.map((row) => Number(row.id)));
}

/**
 * MySQL and MariaDB: lock the rows by primary key only (a row-value IN is not served by the primary
 * key there, and the wider scan deadlocks with concurrent claims), keep those still held by our
 * tokens, delete them: one transaction, one commit. Both statements name the primary key as their
 * index: for a large part of a small table the optimizer would scan it all, locking every row, and
 * the claims of every worker (this one's next claim included) would skip them all and find nothing.
 */
export async function deleteOwnedLocking(
  table: string,
  rows: OwnedRow[],
  transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>,
): Promise<Set<number>> {
  const jobs = table as 'queue_jobs';
  const tokens = new Map(rows.map((row) => [row.id, row.token]));
  return transaction(async (trx) => {
    const { rows: locked } = await sql<{ id: number; reserved_by: string | null }>`
      select id, reserved_by from ${sql.table(jobs)} force index (primary) where id in (${sql.join([...tokens.keys()])}) for update
    `.execute(trx);
    const ids = locked.filter((row) => tokens.get(Number(row.id)) === row.reserved_by).map((row) => Number(row.id));
    if (ids.length > 0) await sql`delete ${sql.table(jobs)} from ${sql.table(jobs)} force index (primary) where id in (${sql.join(ids)})`.execute(trx);
    return new Set(ids);
  });
}

/**
 * `deleted`, plus the rows of `rows` that are done already: not in the table at all, or a finished
 * record (an ack sent again after its answer was lost finds its job gone, or finished).
 */
export async function withGoneRows(db: Kysely<Tables>, table: string, rows: OwnedRow[], deleted: Set<number>): Promise<Set<number>> {
  const kept = rows.filter((row) => !deleted.has(row.id)).map((row) => row.id);
  if (kept.length === 0) return deleted;
  const present = await db.selectFrom(table as 'queue_jobs').select('id').where('id', 'in', kept).where('state', 'is', null).execute();
  const still = new Set(present.map((row) => Number(row.id)));
  for (const id of kept) if (!still.has(id)) deleted.add(id);
  return deleted;
}
