/**
 * SQLite through better-sqlite3: the embedded default that needs no server. WAL lets readers run
 * beside the one writer; every state change is a single statement or an IMMEDIATE transaction, so
 * two workers on one file never hit SQLITE_BUSY on a read-to-write upgrade. The database lives in
 * this machine's file system, so the machine's clock is its clock.
 */
import { mkdirSync, watch } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { QueueError } from '../../../errors.ts';
import type { Tables } from '../schema.ts';
import { claimReturning } from '../sql/claim.ts';
import { deleteOwnedReturning } from '../sql/deleteOwned.ts';
import { finishOwnedReturning } from '../sql/finish.ts';
import { updateOwnedReturning } from '../sql/owned.ts';
import type { SqlDialect } from './dialect.ts';
import { keepPreparedStatements } from './statements.ts';

/** How long a statement waits for another connection's lock before it fails (ms). */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Puts the file in WAL mode. On a new file opened by several processes at once, SQLite can refuse
 * the lock this needs at once, without waiting, where waiting could deadlock (sqlite3_busy_handler),
 * and the process failed to open the file ("database is locked": rare, one of 1,440 openings in a
 * stress test). So it is tried again, every 10 ms, for as long as a statement would wait.
 */
function useWal(database: Database.Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      database.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      // connect() is synchronous: a blocking pause, on a path a process takes once.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

export function sqliteDialect(filename: string): SqlDialect {
  let opened: Database.Database | undefined;
  return {
    client: 'sqlite',
    describe: filename,
    types: { id: 'integer', text: 'text' },
    connect(): Kysely<Tables> {
      let database: Database.Database;
      try {
        mkdirSync(path.dirname(filename), { recursive: true });
        database = new Database(filename);
        // Wait for another worker's write instead of failing at once.
        database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        useWal(database);
        // Safe with WAL: a power cut may lose the last commits, never corrupt the file.
        database.pragma('synchronous = NORMAL');
      } catch (error) {
        throw new QueueError('BACKEND_UNAVAILABLE', `cannot open SQLite database ${filename}: ${(error as Error).message}`, { cause: error });
      }
      keepPreparedStatements(database);
      opened = database;
      return new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
    },
    async checkServer() {},
    async writeTransaction(db, work) {
      return db.connection().execute(async (connection) => {
        await sql`begin immediate`.execute(connection);
        try {
          const result = await work(connection);
          await sql`commit`.execute(connection);
          return result;
        } catch (error) {
          await sql`rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      });
    },
    now: () => sql<number>`${Date.now()}`,
    claim(db, table, params) {
      return claimReturning(db, table, params, this.now(), false);
    },
    deleteOwned: deleteOwnedReturning,
    finishOwned(db, table, rows, state) {
      return finishOwnedReturning(db, table, rows, state, this.now());
    },
    updateOwned: updateOwnedReturning,
    skipCollisions: (insert) => insert.onConflict((oc) => oc.doNothing()),
    // Straight from better-sqlite3, not a query through kysely: an idle worker reads it several
    // times a second, and the query's own machinery cost more than the pragma.
    changeMarker: () => opened!.pragma('data_version', { simple: true }) as number,
    // A commit of any connection writes the -wal file beside the database (journal_mode WAL): inotify
    // on the folder tells of it (and of the file made again after the last connection closed). A
    // folder that cannot be watched (no inotify left, a file system that does not tell) returns
    // undefined and the waiter reads the marker on its timer.
    watchWrites(onWrite) {
      const wal = `${path.basename(filename)}-wal`;
      try {
        const watcher = watch(path.dirname(filename), { persistent: false }, (_event, name) => {
          if (name === null || name === wal) onWrite();
        });
        watcher.on('error', () => {
          watcher.close();
          onWrite();
        });
        return () => watcher.close();
      } catch {
        return undefined;
      }
    },
    isMissingTable: (error) => /no such (table|column)/.test((error as Error)?.message ?? ''),
    // A file has no login, database name or grants; a file it cannot open says so by itself.
    refusal: () => undefined,
  };
}
