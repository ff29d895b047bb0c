/**
 * Batched acknowledgement: deletes the rows whose lease is still held by the given tokens, in one
 * statement (one commit, one disk flush for the whole batch), and reports which ones it deleted so
 * a lost lease is still told apart from a done job.
 *
 * Parameters: (id, token) pairs. DELETE ... WHERE (id, reserved_by) IN ((?, ?), ...) RETURNING id.
 * The dialect picks deleteOwnedReturning or deleteOwnedLocking; withGoneRows then counts a row that
 * is gone altogether as done too: an ack sent again after its answer was lost finds it deleted.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { OwnedRow, TakenRow } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

/** The columns a done job's record is made of. */
const TAKEN = ['id', 'job_id', 'queue', 'payload', 'attempts', 'started_at', 'progress'] as const;

export async function deleteOwnedReturning(db: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<Set<number>> {
  const deleted = await db
    .deleteFrom(table as 'queue_jobs')
    .where((eb) => eb(eb.refTuple('id', 'reserved_by'), 'in', rows.map((row) => eb.tuple(row.id, row.token))))
    .returning('id')
    .execute();
  return new Set(deleted.map((row) => Number(row.id)));
}

/** As deleteOwnedReturning, inside the caller's transaction, returning what a record needs of each row. */
export async function takeOwnedReturning(trx: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<TakenRow[]> {
  const taken = await trx
    .deleteFrom(table as 'queue_jobs')
    .where((eb) => eb(eb.refTuple('id', 'reserved_by'), 'in', rows.map((row) => eb.tuple(row.id, row.token))))
    .returning([...TAKEN])
    .execute();
  return taken.map(normalizeTaken);
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
  return transaction(async (trx) => new Set((await lockAndDelete(trx, table, rows, sql`id, reserved_by`)).map((row) => Number(row.id))));
}

/** As deleteOwnedLocking, inside the caller's transaction, returning what a record needs of each row. */
export async function takeOwnedLocking(trx: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<TakenRow[]> {
  const taken = await lockAndDelete(trx, table, rows, sql.join(TAKEN.map((column) => sql.ref(column)).concat(sql.ref('reserved_by'))));
  return taken.map(normalizeTaken);
}

/** Locks the rows by primary key, deletes those still held by our tokens; returns their `columns`. */
async function lockAndDelete(trx: Kysely<Tables>, table: string, rows: OwnedRow[], columns: RawBuilder<unknown>): Promise<(Record<string, unknown> & { id: number; reserved_by: string | null })[]> {
  const jobs = table as 'queue_jobs';
  const tokens = new Map(rows.map((row) => [row.id, row.token]));
  const { rows: locked } = await sql<Record<string, unknown> & { id: number; reserved_by: string | null }>`
    select ${columns} from ${sql.table(jobs)} force index (primary) where id in (${sql.join([...tokens.keys()])}) for update
  `.execute(trx);
  const owned = locked.filter((row) => tokens.get(Number(row.id)) === row.reserved_by);
  if (owned.length > 0) await sql`delete ${sql.table(jobs)} from ${sql.table(jobs)} force index (primary) where id in (${sql.join(owned.map((row) => row.id))})`.execute(trx);
  return owned;
}

function normalizeTaken(row: Record<string, unknown>): TakenRow {
  return {
    id: Number(row.id),
    job_id: (row.job_id as string | null) ?? null,
    queue: String(row.queue),
    payload: String(row.payload),
    attempts: Number(row.attempts),
    started_at: row.started_at === null || row.started_at === undefined ? null : Number(row.started_at),
    progress: (row.progress as string | null) ?? null,
  };
}

/** `deleted`, plus the rows of `rows` that are not in the table at all. */
export async function withGoneRows(db: Kysely<Tables>, table: string, rows: OwnedRow[], deleted: Set<number>): Promise<Set<number>> {
  const kept = rows.filter((row) => !deleted.has(row.id)).map((row) => row.id);
  if (kept.length === 0) return deleted;
  const present = await db.selectFrom(table as 'queue_jobs').select('id').where('id', 'in', kept).execute();
  const still = new Set(present.map((row) => Number(row.id)));
  for (const id of kept) if (!still.has(id)) deleted.add(id);
  return deleted;
}
