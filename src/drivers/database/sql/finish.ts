/**
 * The finish of leased rows that keep a record (an ack that keeps its result, the end of a
 * cancelled job): the rows still held by their tokens become records in place, in one UPDATE:
 * their state, result, finish time and the end of their keep set, their lease token dropped and
 * their available_at moved past every claim's range (FINISHED_AT_END). No row is copied, so it
 * costs what the plain ack's DELETE costs. Returns the rows it finished: row id and job id.
 *
 * Parameters: per row (id, token, result, keep ms); the state; `now` is the dialect's clock. On
 * PostgreSQL the same statement tells `channel` each finished job id (NOTIFY, at commit).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { FinishedRow, FinishRow } from '../dialects/dialect.ts';
import { FINISHED_AT_END, type Tables } from '../schema.ts';
import { heldBy, lockOwned, type HeldBy } from './owned.ts';

/**
 * What a finish sets, column by column: the state, result, finish time and end of its keep; its
 * lease token dropped, its available_at past every claim's range, its priority 0 (off every
 * priority's range) and its unique key let go of.
 */
function finishedColumns(state: string, result: RawBuilder<unknown>, keep: RawBuilder<unknown>, now: RawBuilder<number>): [string, RawBuilder<unknown>][] {
  return [
    ['state', sql`${state}`],
    ['result', result],
    ['reserved_by', sql`null`],
    ['available_at', sql`${FINISHED_AT_END}`],
    ['finished_at', now],
    ['expires_at', sql`${now} + ${keep}`],
    ['priority', sql`0`],
    ['unique_key', sql`null`],
  ];
}

/** The SET of the finish: one keep and result per row (a CASE only where they differ). */
export function finishing(rows: FinishRow[], state: string, now: RawBuilder<number>) {
  const keeps = new Set(rows.map((row) => Math.round(row.keepMs)));
  const keep = keeps.size === 1 ? sql`${[...keeps][0]!}` : sql`case id ${sql.join(rows.map((row) => sql`when ${row.id} then ${Math.round(row.keepMs)}`), sql` `)} end`;
  const result = rows.every((row) => row.result === null) ? sql`null` : sql`case id ${sql.join(rows.map((row) => sql`when ${row.id} then ${row.result}`), sql` `)} end`;
  return sql.join(finishedColumns(state, result, keep, now).map(([column, value]) => sql`${sql.ref(column)} = ${value}`));
}

/** Makes rows records in `state` whatever their lease (their rows locked by the caller's transaction: a cancel, an expiry). */
export async function finishRows(trx: Kysely<Tables>, table: string, ids: number[], state: string, keepMs: number, now: RawBuilder<number>): Promise<void> {
  if (ids.length === 0) return;
  const rows = ids.map((id) => ({ id, token: '', result: null, keepMs }));
  await sql`update ${sql.table(table)} set ${finishing(rows, state, now)} where id in (${sql.join(ids)})`.execute(trx);
}

/** SQLite and PostgreSQL: the finish as one UPDATE ... WHERE (id, reserved_by) IN (...) RETURNING id, job_id. */
export function finishOwnedQuery(table: string, rows: FinishRow[], state: string, now: RawBuilder<number>, held: HeldBy = heldBy): RawBuilder<FinishedRow> {
  return sql<FinishedRow>`update ${sql.table(table)} set ${finishing(rows, state, now)} where ${held(rows)} returning id, job_id`;
}

/**
 * PostgreSQL: tells `channel` the job id of each row the finish of WITH part `part` returned. A
 * SELECT in a WITH runs only when the final SELECT reads it (data-modifying parts always run once).
 */
export function tellFinished(channel: string, part: string): RawBuilder<unknown> {
  return sql`select pg_notify(${channel}, json_build_array(d.job_id)::text) from ${sql.table(part)} d where d.job_id is not null`;
}

/** SQLite and PostgreSQL: finishOwnedQuery(), and on PostgreSQL the NOTIFY of `channel` in the same statement. */
export async function finishOwnedReturning(db: Kysely<Tables>, table: string, rows: FinishRow[], state: string, now: RawBuilder<number>, channel?: string, held: HeldBy = heldBy): Promise<FinishedRow[]> {
  const update = finishOwnedQuery(table, rows, state, now, held);
  const query = channel === undefined
    ? update
    : sql`with done as (${update}), told as (${tellFinished(channel, 'done')}) select d.id, d.job_id, (select count(*) from told) as told from done d`;
  const { rows: finished } = await query.execute(db);
  return (finished as FinishedRow[]).map((row) => ({ id: Number(row.id), job_id: row.job_id ?? null }));
}

/**
 * MySQL and MariaDB (no UPDATE ... RETURNING): inside the caller's transaction, lock the rows, keep
 * those still held by our tokens, finish them by id (see owned.ts for why by primary key).
 */
export async function finishOwnedLocking(trx: Kysely<Tables>, table: string, rows: FinishRow[], state: string, now: RawBuilder<number>): Promise<FinishedRow[]> {
  const owned = await lockOwned(trx, table, rows);
  if (owned.length === 0) return [];
  const ids = new Set(owned.map((row) => row.id));
  await sql`update ${sql.table(table)} force index (primary) set ${finishing(rows.filter((row) => ids.has(row.id)), state, now)} where id in (${sql.join([...ids])})`.execute(trx);
  return owned;
}
