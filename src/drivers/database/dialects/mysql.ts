/**
 * MySQL 8 and MariaDB 10.6+ through mysql2's pool. The claim locks rows with FOR UPDATE SKIP
 * LOCKED in a short transaction; the clock is the server's NOW(3). Tables are utf8mb4 with a binary
 * collation, so queue names compare exactly ('Emails' is not 'emails', 'é' is not 'e').
 */
import { Kysely, MysqlDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import type { ServerDatabaseConnectionConfig } from '../../../config/define.ts';
import type { Refusal } from '../../../contract/unavailable.ts';
import { QueueError } from '../../../errors.ts';
import type { Tables } from '../schema.ts';
import { claimSelectForUpdate } from '../sql/claim.ts';
import { deleteOwnedLocking } from '../sql/deleteOwned.ts';
import { finishOwnedLocking } from '../sql/finish.ts';
import { updateOwnedLocking } from '../sql/owned.ts';
import { turnByPrimaryKey } from '../sql/turn.ts';
import type { SqlDialect } from './dialect.ts';
import { prepareTheClaim } from './statements.ts';

/**
 * Server error numbers of a refusal: a bad login (1045; 1698 without a password), an unknown
 * database (1049), no privilege (1044, 1142, 1143).
 */
const MYSQL_REFUSALS: Record<number, Refusal> = { 1045: 'credentials', 1698: 'credentials', 1049: 'database', 1044: 'permission', 1142: 'permission', 1143: 'permission' };

export function mysqlDialect(config: ServerDatabaseConnectionConfig): SqlDialect {
  const url = config.url ? new URL(config.url) : undefined;
  const host = url?.hostname ?? config.host ?? '127.0.0.1';
  const port = Number(url?.port || config.port || 3306);
  const dialect: SqlDialect = {
    client: 'mysql',
    describe: `${host}:${port}`,
    types: { id: 'bigint', text: 'longtext' },
    tableSuffix: sql`default charset = utf8mb4 collate = utf8mb4_bin`,
    connect(): Kysely<Tables> {
      const pool = createPool({
        host,
        port,
        database: url ? decodeURIComponent(url.pathname.slice(1)) : config.database,
        user: url ? decodeURIComponent(url.username) : config.user,
        password: url ? decodeURIComponent(url.password) : config.password,
        connectionLimit: config.pool ?? 10,
        connectTimeout: 5_000,
        charset: 'utf8mb4',
        // BIGINT columns (ms timestamps, ids) as numbers: they stay far below 2^53.
        supportBigNumbers: true,
        bigNumberStrings: false,
      });
      prepareTheClaim(pool);
      return new Kysely<Tables>({ dialect: new MysqlDialect({ pool }) });
    },
    async checkServer(db) {
      const { rows } = await sql<{ v: string; packet: number | string }>`select version() as v, @@max_allowed_packet as packet`.execute(db);
      const problem = mysqlSkipLockedProblem(rows[0]?.v ?? '');
      if (problem) throw new QueueError('BACKEND_UNAVAILABLE', problem);
      dialect.statementBytes = Number(rows[0]?.packet) || undefined;
    },
    writeTransaction: (db, work) => (db.isTransaction ? work(db) : db.transaction().execute(work)),
    now: () => sql<number>`cast(round(unix_timestamp(now(3)) * 1000) as signed)`,
    claim(db, table, params) {
      return claimSelectForUpdate(db, table, params, this.now(), (work) => this.writeTransaction(db, work));
    },
    // No DELETE ... RETURNING on MySQL 8 (and kysely compiles none for MariaDB): lock, then delete.
    deleteOwned(db, table, rows) {
      return deleteOwnedLocking(table, rows, (work) => this.writeTransaction(db, work));
    },
    finishOwned(db, table, rows, state) {
      return this.writeTransaction(db, (trx) => finishOwnedLocking(trx, table, rows, state, this.now()));
    },
    updateOwned(db, table, rows, set) {
      return this.writeTransaction(db, (trx) => updateOwnedLocking(trx, table, rows, set));
    },
    turn(db, table, parts) {
      return this.writeTransaction(db, async (trx) => {
        const done = await turnByPrimaryKey(trx, table, parts, this.now());
        return { ...done, held: parts.hold ? await this.claim(trx, table, parts.hold) : [] };
      });
    },
    isMissingTable: (error) => [1146, 1054].includes((error as { errno?: number })?.errno ?? 0),
    refusal: (error) => MYSQL_REFUSALS[(error as { errno?: number })?.errno ?? 0],
    // ON DUPLICATE KEY UPDATE of nothing: INSERT IGNORE would also turn real errors into warnings.
    skipCollisions: (insert) => insert.onDuplicateKeyUpdate({ job_id: sql`job_id` }),
    // ER_DUP_ENTRY: a duplicate in a unique index (job_id, or queue and unique_key).
    isCollision: (error) => (error as { errno?: number })?.errno === 1062,
  };
  return dialect;
}

/** Why a server (by its version() string) cannot run the claim, or undefined when it can. */
export function mysqlSkipLockedProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split(/[.-]/).map(Number);
  const isMariaDb = /mariadb/i.test(version);
  const ok = isMariaDb ? major > 10 || (major === 10 && minor >= 6) : major >= 8;
  if (ok) return undefined;
  return `${isMariaDb ? 'MariaDB' : 'MySQL'} ${version} has no FOR UPDATE SKIP LOCKED; the database driver needs MySQL 8 or MariaDB 10.6 or newer`;
}
