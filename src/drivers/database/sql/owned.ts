/**
 * The rows still held by their lease tokens: every ack, finish, start and give-back names its rows
 * by (id, token), so a worker whose lease was taken over changes nothing, and learns which of its
 * rows it still held.
 *
 * SQLite and PostgreSQL: one statement, WHERE (id, reserved_by) IN (...) RETURNING. MySQL and
 * MariaDB (no RETURNING, and a row-value IN is not served by the primary key there: the wider scan
 * deadlocks with concurrent claims): inside the caller's transaction, lock the rows by primary key,
 * keep those still held by our tokens, then change them by id. Both statements name the primary key
 * as their index: for a large part of a small table the optimizer would scan it all, locking every
 * row, and the claims of every worker (this one's next claim included) would skip them all and find
 * nothing.
 *
 * Parameters: (id, token) pairs; the SET of an UPDATE.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { FinishedRow, OwnedRow } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

/** The WHERE of the rows still held by these tokens: heldBy, or on PostgreSQL heldByArrays. */
export type HeldBy = (rows: OwnedRow[]) => RawBuilder<boolean>;

/** SQLite and PostgreSQL: the WHERE of the rows still held by these tokens, a pair of parameters per row. */
export function heldBy(rows: OwnedRow[]): RawBuilder<boolean> {
  return sql<boolean>`(id, reserved_by) in (${sql.join(rows.map((row) => sql`(${row.id}, ${row.token})`))})`;
}

/**
 * PostgreSQL: for a batch of rows, the same from two array parameters, so the statement's text is
 * one whatever the number of rows and is prepared once (statements.ts), where a pair per row made a
 * new text, parsed and planned, for every batch size, and planned 250 OR'ed index conditions for
 * 250 rows. The rows are found by primary key (`= any`), then paired with their tokens. An UPDATE of
 * 250 rows by their ids and tokens: about 1.9 ms against 3.6 (a table of 200,000 rows, this
 * machine). For a few rows the pairs are cheaper (one row: 300 against 380 µs), and the texts few.
 */
export function heldByArrays(rows: OwnedRow[]): RawBuilder<boolean> {
  if (rows.length < ARRAYS_FROM) return heldBy(rows);
  const ids = rows.map((row) => row.id);
  return sql<boolean>`id = any(${ids}::bigint[]) and (id, reserved_by) in (select * from unnest(${ids}::bigint[], ${rows.map((row) => row.token)}::text[]))`;
}

/** heldByArrays: batches of this many rows or more go as arrays. */
const ARRAYS_FROM = 16;

/**
 * MySQL and MariaDB: the same rows found by primary key, the tokens only a filter on them (a holding
 * worker's turn changes its own leases this way, without locking them first: sql/turn.ts).
 */
export function heldByKey(rows: OwnedRow[]): RawBuilder<boolean> {
  return sql<boolean>`id in (${sql.join(rows.map((row) => row.id))}) and ${heldBy(rows)}`;
}

/** MySQL and MariaDB: the ids of the rows still held by these tokens, read by primary key. */
export async function stillHeld(db: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<Set<number>> {
  const { rows: held } = await sql<{ id: number }>`select id from ${sql.table(table)} force index (primary) where ${heldByKey(rows)}`.execute(db);
  return new Set(held.map((row) => Number(row.id)));
}

/** MySQL and MariaDB, inside the caller's transaction: locks the rows, returns those still held by these tokens. */
export async function lockOwned(trx: Kysely<Tables>, table: string, rows: OwnedRow[]): Promise<FinishedRow[]> {
  const tokens = new Map(rows.map((row) => [row.id, row.token]));
  const { rows: locked } = await sql<{ id: number; reserved_by: string | null; job_id: string | null }>`
    select id, reserved_by, job_id from ${sql.table(table)} force index (primary) where id in (${sql.join([...tokens.keys()])}) for update
  `.execute(trx);
  return locked.filter((row) => tokens.get(Number(row.id)) === row.reserved_by).map((row) => ({ id: Number(row.id), job_id: row.job_id }));
}

/** SQLite and PostgreSQL: the UPDATE that sets `set` on the rows still held by these tokens, RETURNING id. */
export function updateOwnedQuery(table: string, rows: OwnedRow[], set: RawBuilder<unknown>, held: HeldBy = heldBy): RawBuilder<{ id: number }> {
  return sql<{ id: number }>`update ${sql.table(table)} set ${set} where ${held(rows)} returning id`;
}

/** SQLite and PostgreSQL: runs updateOwnedQuery(); returns the ids it set. */
export async function updateOwnedReturning(db: Kysely<Tables>, table: string, rows: OwnedRow[], set: RawBuilder<unknown>, held: HeldBy = heldBy): Promise<Set<number>> {
  const { rows: updated } = await updateOwnedQuery(table, rows, set, held).execute(db);
  return new Set(updated.map((row) => Number(row.id)));
}

/** MySQL and MariaDB, inside the caller's transaction: the same, as lockOwned() then an UPDATE by id. */
export async function updateOwnedLocking(trx: Kysely<Tables>, table: string, rows: OwnedRow[], set: RawBuilder<unknown>): Promise<Set<number>> {
  const ids = (await lockOwned(trx, table, rows)).map((row) => row.id);
  if (ids.length > 0) await sql`update ${sql.table(table)} force index (primary) set ${set} where id in (${sql.join(ids)})`.execute(trx);
  return new Set(ids);
}
