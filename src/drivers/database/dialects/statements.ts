/**
 * The queue's statements are parsed and planned once, not on every call. The claim that orders by
 * priority in three arms is long; parsing and planning it (then with a CASE per column that ended
 * expired jobs too) each time cost a worker at c=1 a third of its speed (SQLite 3,000 -> 1,900
 * jobs/s; PostgreSQL 750 -> 540, in a driver-level loop of reserve and ack). With its statements
 * prepared once, SQLite and PostgreSQL run faster than before priorities (3,200 and 930), MariaDB
 * about as fast in that loop (see docs/performance.md for the bench).
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Pool as MysqlPool } from 'mysql2';
import type pg from 'pg';

/** Statements kept per SQLite file or PostgreSQL connection: the hot ones, whatever the mix of batch sizes. */
const KEPT = 100;

/**
 * SQLite: better-sqlite3's prepare() keeps what it prepared, by the statement's text. A prepared
 * statement stays valid across schema changes (SQLite prepares it again by itself).
 */
export function keepPreparedStatements(database: Database.Database): void {
  const prepare = database.prepare.bind(database);
  const kept = new Map<string, Database.Statement>();
  database.prepare = ((text: string) => {
    let statement = kept.get(text);
    if (!statement) {
      statement = prepare(text);
      if (kept.size >= KEPT) kept.delete(kept.keys().next().value!);
      kept.set(text, statement);
    }
    return statement;
  }) as typeof database.prepare;
}

/**
 * The writes of the hot path: the claim, the ack, the finish, the release, and the push (an INSERT
 * in a WITH, sql/insertJobs.ts, whose text does not change with the number of jobs).
 */
const HOT = /^(with|update|delete)\b/i;
/** A statement name the server does not know (a pooler that swaps connections), or one it knows already. */
const LOST_STATEMENT = new Set(['26000', '42P05']);

/**
 * PostgreSQL: the hot statements of each pool connection go as named prepared statements (pg parses
 * one the first time its name is used on a connection, then only binds it). Behind a pooler that
 * cannot keep them (pgbouncer in transaction mode without max_prepared_statements), the first call
 * that finds its statement unknown turns naming off for the pool and runs again unnamed: the error
 * comes before the statement ran, so nothing happened twice.
 */
export function namePreparedStatements(pool: pg.Pool): void {
  let naming = true;
  pool.on('connect', (client) => {
    const names = new Map<string, string>();
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { query: unknown }).query = (text: unknown, values?: unknown, ...rest: unknown[]) => {
      if (!naming || rest.length > 0 || typeof text !== 'string' || !Array.isArray(values) || !HOT.test(text)) return query(text, values, ...rest);
      let name = names.get(text);
      if (name === undefined) {
        if (names.size >= KEPT) return query(text, values);
        name = `queue_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
        names.set(text, name);
      }
      return query({ name, text, values }).catch((error: { code?: string }) => {
        if (!LOST_STATEMENT.has(error?.code ?? '')) throw error;
        naming = false;
        return query(text, values);
      });
    };
  });
}

/**
 * The claim's SELECT of its three arms (sql/claim.ts), the one text MySQL's claim sends every time,
 * and an idle worker's look (sql/nextReady.ts), one text per list of queues.
 */
const MYSQL_PREPARED = /^(\(select|select min\(available_at\) as next_at)/;

/**
 * MySQL and MariaDB: the claim's SELECT and the idle look go as prepared statements (mysql2's
 * execute, kept per connection), so the server parses them once (the look, 1.4 KB of text, runs
 * several times a second). Only those: a server caps prepared statements for all its clients
 * together (max_prepared_stmt_count), and the other hot statements change with the number of ids
 * they name.
 */
export function prepareTheClaim(pool: MysqlPool): void {
  pool.on('connection', (connection) => {
    const query = connection.query.bind(connection) as (...args: unknown[]) => unknown;
    const execute = connection.execute.bind(connection) as (...args: unknown[]) => unknown;
    (connection as unknown as { query: unknown }).query = (text: unknown, values: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && MYSQL_PREPARED.test(text) && Array.isArray(values) ? execute(text, values, ...rest) : query(text, values, ...rest);
  });
}
