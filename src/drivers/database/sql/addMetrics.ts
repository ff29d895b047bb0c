/**
 * Adds counts to the metrics table (SPEC 15): a row whose key (queue, minute, field) is stored
 * already gets the value added, another is inserted; ON CONFLICT ... DO UPDATE on PostgreSQL and
 * SQLite, ON DUPLICATE KEY UPDATE on MySQL. In the caller's transaction, a statement per CHUNK rows
 * (SQLite's bound-parameter limit: a beat after an outage carries every minute it missed).
 *
 * Rows of one key are added up first (PostgreSQL refuses to update a row twice in one statement),
 * and go in key order: beats of many workers on one queue and minute lock the rows they share in
 * the same order, so they wait for each other instead of deadlocking.
 *
 * Parameters: the rows (queue, minute, field, value); the dialect (its upsert).
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../dialects/dialect.ts';
import type { MetricsTable, Tables } from '../schema.ts';

const CHUNK = 500;

export async function addMetrics(trx: Kysely<Tables>, table: string, dialect: SqlDialect, rows: MetricsTable[]): Promise<void> {
  const merged = inKeyOrder(rows);
  for (let from = 0; from < merged.length; from += CHUNK) {
    const insert = trx.insertInto(table as 'queue_metrics').values(merged.slice(from, from + CHUNK));
    await (dialect.client === 'mysql'
      ? insert.onDuplicateKeyUpdate({ value: sql`${sql.ref('value')} + values(${sql.ref('value')})` })
      : insert.onConflict((oc) => oc.columns(['queue', 'minute', 'field']).doUpdateSet({ value: sql`${sql.ref(`${table}.value`)} + ${sql.ref('excluded.value')}` }))
    ).execute();
  }
}

/** One row per key, its values added up, ordered by (queue, minute, field). */
function inKeyOrder(rows: MetricsTable[]): MetricsTable[] {
  const byKey = new Map<string, MetricsTable>();
  for (const row of rows) {
    const key = `${row.queue}\0${row.minute}\0${row.field}`;
    const stored = byKey.get(key);
    if (stored) stored.value += row.value;
    else byKey.set(key, { ...row });
  }
  return [...byKey.values()].sort((a, b) => compare(a.queue, b.queue) || a.minute - b.minute || compare(a.field, b.field));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
