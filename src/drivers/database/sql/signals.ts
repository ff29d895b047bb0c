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

/**
 * The signals and the database's clock in one statement: the clock's one row joined to every signal
 * (a row with a null name when there is none). A worker reads them every 800 ms, idle or busy; the
 * clock as a statement of its own was a tenth of what an idle MariaDB worker sent.
 */
export async function readSignals(db: Kysely<Tables>, table: string, dialect: SqlDialect): Promise<WorkerSignals> {
  const { rows } = await sql<{ name: string | null; value: number | string | null; now: number | string }>`select s.name, s.value, c.now
    from (select ${dialect.now()} as now) c left join ${sql.table(table)} s on 1 = 1`.execute(db);
  const stored = rows.flatMap((row): [string, number][] => (row.name === null ? [] : [[row.name, Number(row.value)]]));
  return workerSignals(stored, Number(rows[0]!.now));
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
