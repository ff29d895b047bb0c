/** What differs between the SQL databases the database driver runs on. */
import type { Kysely } from 'kysely';
import type { Tables } from '../schema.ts';

export interface SqlDialect {
  readonly client: 'sqlite';
  connect(): Kysely<Tables>;
  /** Runs `work` in a transaction that holds the write lock from its first statement. */
  writeTransaction<T>(db: Kysely<Tables>, work: (trx: Kysely<Tables>) => Promise<T>): Promise<T>;
}
