/**
 * The worker signals (contract/signals.ts), as rows of the signals table: name -> the dialect's
 * clock when set. A set is a delete and an insert in one transaction: an upsert without
 * dialect-specific syntax.
 */
import { sql, type Kysely } from 'kysely';
import type { WorkerSignals } from '../../../contract/driver.ts';
import { workerSignals } from '../../../contract/signals.ts';
import type { SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

export async function readSignals(db: Kysely<Tables>, table: string, dialect: SqlDialect): Promise<WorkerSignals> {
  const [rows, clock] = await Promise.all([
    db.selectFrom(table as 'queue_signals').select(['name', 'value']).execute(),
    sql<{ now: number }>`select ${dialect.now()} as now`.execute(db),
  ]);
  return workerSignals(rows.map((row) => [row.name, Number(row.value)]), Number(clock.rows[0]!.now));
}

export async function setSignal(db: Kysely<Tables>, table: string, dialect: SqlDialect, name: string): Promise<void> {
  await dialect.writeTransaction(db, (trx) => setSignalIn(trx, table, dialect, name));
}

/** setSignal inside the caller's write transaction. */
export async function setSignalIn(trx: Kysely<Tables>, table: string, dialect: SqlDialect, name: string): Promise<void> {
  const signals = table as 'queue_signals';
  await trx.deleteFrom(signals).where('name', '=', name).execute();
  await trx.insertInto(signals).values({ name, value: dialect.now() }).execute();
}

export async function deleteSignal(db: Kysely<Tables>, table: string, name: string): Promise<void> {
  await db.deleteFrom(table as 'queue_signals').where('name', '=', name).execute();
}
