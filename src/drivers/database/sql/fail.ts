/**
 * The fail, in one transaction: the failed record is stored first, then the leased row deleted by
 * the holder of its lease: nothing is deleted without a terminal record. If the lease was taken
 * over, the record is taken back out and the other holder decides the job's fate.
 *
 * Safe to run twice: when the row is gone and a record that is exactly this failure is stored, a
 * first run whose answer was lost stored it, which counts.
 *
 * Parameters: row id, lease token; the failed store's insert (returns the record's id) and check.
 */
import type { Kysely } from 'kysely';
import type { SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

export interface FailedRecords {
  table: string;
  /** Stores the record inside the caller's transaction; returns its id. */
  insert(trx: Kysely<Tables>): Promise<string>;
  /** Whether this very failure is on record already. */
  holds(db: Kysely<Tables>): Promise<boolean>;
  /** Inside the transaction, once the job is removed: tells whoever waits for it. */
  finished?(trx: Kysely<Tables>, recordId: string): Promise<void>;
}

export async function failOwned(db: Kysely<Tables>, table: string, dialect: SqlDialect, id: number, token: string, records: FailedRecords): Promise<boolean> {
  const jobs = table as 'queue_jobs';
  const stored = await dialect.writeTransaction(db, async (trx) => {
    const recordId = await records.insert(trx);
    const removed = await trx.deleteFrom(jobs).where('id', '=', id).where('reserved_by', '=', token).executeTakeFirst();
    if (Number(removed.numDeletedRows) > 0) {
      await records.finished?.(trx, recordId);
      return true;
    }
    await trx.deleteFrom(records.table as 'queue_failed_jobs').where('id', '=', recordId).execute();
    return false;
  });
  if (stored) return true;
  const row = await db.selectFrom(jobs).select('id').where('id', '=', id).executeTakeFirst();
  return row === undefined && (await records.holds(db));
}
