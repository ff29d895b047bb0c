/**
 * PostgreSQL's ack of done jobs that keep a record, in one statement (one round trip, as the plain
 * ack): the rows still held by their tokens are deleted, their `completed` records written (a record
 * of the same id replaced), and each kept id told on the finish channel once the statement commits.
 * Data-modifying parts of a WITH run exactly once, whether or not the final SELECT reads them.
 *
 * Parameters: (id, token) pairs; per row that keeps a record, (id, result, keep ms).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { RECORD_COLUMNS, type DoneRow } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';
import { deleteOwnedReturning } from './deleteOwned.ts';

export async function completeOwnedAtOnce(db: Kysely<Tables>, tables: { jobs: string; finished: string }, rows: DoneRow[], now: RawBuilder<number>, channel: string): Promise<Set<number>> {
  const owned = sql.join(rows.map((row) => sql`(${row.id}::bigint, ${row.token}::text)`));
  const kept = sql.join(rows.filter((row) => row.completion).map((row) => sql`(${row.id}::bigint, ${row.completion!.result}::text, ${Math.round(row.completion!.keepMs)}::bigint)`));
  const replace = sql.join(RECORD_COLUMNS.map((column) => sql`${sql.ref(column)} = excluded.${sql.ref(column)}`));
  const { rows: taken } = await sql<{ id: string | number }>`
    with taken as (
      delete from ${sql.table(tables.jobs)} where (id, reserved_by) in (${owned})
      returning id, job_id, queue, payload, attempts, started_at, progress
    ), kept as (
      insert into ${sql.table(tables.finished)} (id, queue, state, payload, result, progress, attempts, started_at, finished_at, expires_at)
      select t.job_id, t.queue, 'completed', t.payload, v.result, t.progress, t.attempts, t.started_at, ${now}, ${now} + v.keep_ms
      from taken t join (values ${kept}) as v(id, result, keep_ms) on v.id = t.id
      where t.job_id is not null
      on conflict (id) do update set ${replace}
      returning id
    ), told as (
      select pg_notify(${channel}, json_build_array(k.id)::text) from kept k
    )
    select t.id, (select count(*) from told) as told from taken t
  `.execute(db);
  return new Set(taken.map((row) => Number(row.id)));
}

/**
 * SQLite's ack of done jobs that keep a record: no DML in a WITH there, so two statements in one
 * IMMEDIATE transaction (SQLite's one writer: nothing runs between them), neither of which brings
 * a payload into JavaScript: the records are copied from the rows still held by their tokens
 * (INSERT ... SELECT), then those rows deleted.
 */
export async function completeOwnedInPlace(db: Kysely<Tables>, tables: { jobs: string; finished: string }, rows: DoneRow[], now: RawBuilder<number>, transaction: <T>(work: (trx: Kysely<Tables>) => Promise<T>) => Promise<T>): Promise<Set<number>> {
  const kept = sql.join(rows.filter((row) => row.completion).map((row) => sql`(${row.id}, ${row.token}, ${row.completion!.result}, ${Math.round(row.completion!.keepMs)})`));
  const replace = sql.join(RECORD_COLUMNS.map((column) => sql`${sql.ref(column)} = excluded.${sql.ref(column)}`));
  return transaction(async (trx) => {
    await sql`
      insert into ${sql.table(tables.finished)} (id, queue, state, payload, result, progress, attempts, started_at, finished_at, expires_at)
      select j.job_id, j.queue, 'completed', j.payload, v.column3, j.progress, j.attempts, j.started_at, ${now}, ${now} + v.column4
      from (values ${kept}) as v join ${sql.table(tables.jobs)} as j on j.id = v.column1 and j.reserved_by = v.column2
      where j.job_id is not null
      on conflict (id) do update set ${replace}
    `.execute(trx);
    return deleteOwnedReturning(trx, tables.jobs, rows);
  });
}
