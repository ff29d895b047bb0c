/**
 * Jobs held until an application's transaction commits (`dispatch(job, { afterCommit: trx })`).
 * kysely tells nobody when a transaction commits, so the transaction is run here, by
 * Queue.transaction(db, callback): once it has committed the held jobs are stored, in the order
 * they were dispatched; if it rolls back they are dropped.
 */
import type { Kysely, Transaction } from 'kysely';
import { QueueError } from '../errors.ts';

const held = new WeakMap<object, (() => Promise<unknown>)[]>();

/** Runs `callback` in a transaction of `db`, then stores the jobs dispatched with `{ afterCommit: trx }` in it. */
export async function runTransaction<DB, T>(db: Kysely<DB>, callback: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  let stores: (() => Promise<unknown>)[] = [];
  const result = await db.transaction().execute(async (trx) => {
    held.set(trx, (stores = []));
    return callback(trx);
  });
  const failures: string[] = [];
  for (const store of stores) await store().catch((error: Error) => failures.push(error.message));
  if (failures.length > 0) {
    throw new QueueError('BACKEND_UNAVAILABLE', `the transaction committed, but ${failures.length} job(s) dispatched after it could not be stored: ${failures[0]}`);
  }
  return result;
}

/** Holds `store` until `transaction` commits. */
export function storeAfterCommit(transaction: unknown, store: () => Promise<unknown>): void {
  const stores = typeof transaction === 'object' && transaction !== null ? held.get(transaction) : undefined;
  if (!stores) {
    throw new QueueError('INVALID_ARGUMENT', '{ afterCommit } takes a transaction run by Queue.transaction(db, async (trx) => ...), the only way to know when it commits');
  }
  stores.push(store);
}
