/**
 * Batched acknowledgement: deletes the rows whose lease is still held by the given tokens, in one
 * statement (one commit, one disk flush for the whole batch), and reports which ones it deleted so
 * a lost lease is still told apart from a done job.
 *
 * Parameters: (id, token) pairs. DELETE ... WHERE (id, reserved_by) IN ((?, ?), ...) RETURNING id.
 * The dialect picks deleteOwnedReturning or deleteOwnedLocking; withGoneRows then counts a row that
 * is gone altogether as done too: an ack sent again after its answer was lost finds it deleted.
 * acknowledge() is the whole ack, for rows that keep a record (sql/finish.ts) and rows that do not.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DoneRow, FinishRow, OwnedRow, SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';
import { heldBy, lockOwned, type HeldBy } from './owned.ts';

/** SQLite and PostgreSQL: the DELETE ... WHERE (id, reserved_by) IN (...) RETURNING id. */
export function deleteOwnedQuery(table: string, rows: OwnedRow[], held: HeldBy = heldBy): RawBuilder<{ id: number }> {
  return sql<{ id: number }>`delete from ${sql.table(table)} where ${held(rows)} returning id`;
}

export async function deleteOwnedReturning(db: Kysely<Tables>, table: string, rows: OwnedRow[], held: HeldBy = heldBy): Promise<Set<number>> {
  const { rows: deleted } = await deleteOwnedQuery(table, rows, held).execute(db);
  return new Set(deleted.map((row) => Number(row.id)));
}

/** MySQL and MariaDB: lock the rows, keep those still held by our tokens, delete them by id (see owned.ts): one transaction, one commit. */
export async function deleteOwnedLocking(
  table: string,
  rows: OwnedRow[],
  transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>,
): Promise<Set<number>> {
  return transaction(async (trx) => {
    const ids = (await lockOwned(trx, table, rows)).map((row) => row.id);
    if (ids.length > 0) await sql`delete ${sql.table(table)} from ${sql.table(table)} force index (primary) where id in (${sql.join(ids)})`.execute(trx);
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

/**
 * The ack of done rows, as AckBatcher batches it and a holding worker's turn carries it: a row that
 * keeps a record becomes it in place (one UPDATE per keep time in the batch, telling `channel`), one
 * that keeps none is deleted. Returns the ids done: ended now, or gone already (withGoneRows).
 */
export async function acknowledge(db: Kysely<Tables>, dialect: SqlDialect, table: string, rows: DoneRow[], channel: string): Promise<Set<number>> {
  const { plain, kept } = ackParts(rows);
  const done = plain.length > 0 ? await dialect.deleteOwned(db, table, plain) : new Set<number>();
  if (kept.length > 0) {
    for (const row of await dialect.finishOwned(db, table, kept, 'completed', channel)) done.add(row.id);
  }
  return withGoneRows(db, table, rows, done);
}

/** Done rows apart: those that keep no record (deleted), and those that do (finished, with their result and keep). */
export function ackParts(rows: DoneRow[]): { plain: OwnedRow[]; kept: FinishRow[] } {
  return {
    plain: rows.filter((row) => !row.completion),
    kept: rows.flatMap((row) => (row.completion ? [{ id: row.id, token: row.token, result: row.completion.result, keepMs: row.completion.keepMs }] : [])),
  };
}
