/**
 * PostgreSQL through pg's pool. The claim is one UPDATE with a SKIP LOCKED subquery; the clock is
 * the server's statement_timestamp(), stable within a statement so one claim sees one `now`.
 */
import { Kysely, PostgresDialect, sql, type DatabaseIntrospector, type SchemaMetadata, type TableMetadata } from 'kysely';
import pg from 'pg';
import type { ServerDatabaseConnectionConfig } from '../../../config/define.ts';
import type { Refusal } from '../../../contract/unavailable.ts';
import { QueueError } from '../../../errors.ts';
import type { Tables } from '../schema.ts';
import { claimReturning } from '../sql/claim.ts';
import { deleteOwnedReturning } from '../sql/deleteOwned.ts';
import { finishOwnedReturning } from '../sql/finish.ts';
import { heldByArrays, updateOwnedReturning } from '../sql/owned.ts';
import { turnInOneStatement } from '../sql/turn.ts';
import type { SqlDialect } from './dialect.ts';
import { namePreparedStatements } from './statements.ts';

/** SQLSTATEs of a refusal: bad password (28P01), no such role (28000), no such database (3D000), no privilege (42501). */
const PG_REFUSALS: Record<string, Refusal> = { '28P01': 'credentials', '28000': 'credentials', '3D000': 'database', '42501': 'permission' };

export function postgresDialect(config: ServerDatabaseConnectionConfig, onPoolError: (error: Error) => void): SqlDialect {
  const url = config.url ? new URL(config.url) : undefined;
  const host = url?.hostname ?? config.host ?? '127.0.0.1';
  const port = Number(url?.port || config.port || 5432);
  return {
    client: 'postgres',
    describe: `${host}:${port}`,
    types: { id: 'bigserial', text: 'text' },
    connect(): Kysely<Tables> {
      const pool = new pg.Pool({
        ...(config.url ? { connectionString: config.url } : { host, port, database: config.database, user: config.user, password: config.password }),
        max: config.pool ?? 10,
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
      });
      // A client that loses its server (a terminated backend, a restart, a proxy or idle timeout)
      // emits 'error', and without a listener that ends the process. The pool listens only while a
      // client is idle; a checked-out one gets its own listener, for good: its query fails with
      // the same error, and the pool drops the client when it comes back.
      pool.on('error', onPoolError);
      pool.on('connect', (client) => client.on('error', ignoreCheckedOutError));
      namePreparedStatements(pool);
      return new Kysely<Tables>({ dialect: new QueueDialect({ pool }) });
    },
    async checkServer(db) {
      const { rows } = await sql<{ v: string }>`select current_setting('server_version_num') as v`.execute(db);
      const problem = postgresSkipLockedProblem(Number(rows[0]?.v ?? 0));
      if (problem) throw new QueueError('BACKEND_UNAVAILABLE', problem);
    },
    writeTransaction: (db, work) => db.transaction().execute(work),
    now: () => sql<number>`(extract(epoch from statement_timestamp()) * 1000)::bigint`,
    claim(db, table, params) {
      return claimReturning(db, table, params, this.now(), true);
    },
    deleteOwned: (db, table, rows) => deleteOwnedReturning(db, table, rows, heldByArrays),
    finishOwned(db, table, rows, state, channel) {
      return finishOwnedReturning(db, table, rows, state, this.now(), channel, heldByArrays);
    },
    updateOwned: (db, table, rows, set) => updateOwnedReturning(db, table, rows, set, heldByArrays),
    turn(db, table, parts, channel) {
      return turnInOneStatement(db, table, parts, this.now(), channel);
    },
    skipCollisions: (insert) => insert.onConflict((oc) => oc.doNothing()),
    // unique_violation: a row's job_id, or its queue and unique key.
    isCollision: (error) => (error as { code?: string })?.code === '23505',
    failureAborts: true,
    bindsArrays: true,
    async notify(trx, channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
    },
    async listen(onNotice, onLost) {
      const client = new pg.Client(config.url ? { connectionString: config.url } : { host, port, database: config.database, user: config.user, password: config.password });
      client.on('error', onLost);
      client.on('notification', (message) => {
        if (message.payload) onNotice(message.channel, message.payload);
      });
      await client.connect();
      return {
        add: async (channel) => void (await client.query(`listen ${client.escapeIdentifier(channel)}`)),
        close: () => client.end(),
      };
    },
    isMissingTable: (error) => ['42P01', '42703'].includes((error as { code?: string })?.code ?? ''),
    refusal: (error) => PG_REFUSALS[(error as { code?: string })?.code ?? ''],
  };
}

/**
 * Kysely's migrator asks the dialect's introspector whether its two tables exist, and Kysely's own
 * for PostgreSQL answers by reading every column of every table in the database, calling
 * pg_get_serial_sequence() on each table by name: a table the application drops meanwhile fails
 * the read ("relation does not exist"), every time it is tried while tables come and go, and on an
 * application's database of many tables the read is long. This one answers from pg_tables with the
 * tables of the schemas on the search path (where the migrator's unqualified names resolve), names
 * only: a read of the catalog in one snapshot, which a concurrent DROP cannot fail.
 */
class TablesOnTheSearchPath implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<any>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<SchemaMetadata>`select unnest(current_schemas(false)) as name`.execute(this.db);
    return rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ schema: string; name: string }>`select schemaname as schema, tablename as name from pg_catalog.pg_tables
      where schemaname = any(current_schemas(false))`.execute(this.db);
    return rows.map((row) => ({ ...row, isView: false, columns: [] }));
  }

  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables() };
  }
}

class QueueDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new TablesOnTheSearchPath(db);
  }
}

/** The query that was running fails with this error too, and reports it; there is nothing more to do. */
function ignoreCheckedOutError(): void {}

/** Why a server (by server_version_num) cannot run the claim, or undefined when it can. */
export function postgresSkipLockedProblem(versionNum: number): string | undefined {
  if (versionNum >= 90500) return undefined;
  return `PostgreSQL ${Math.floor(versionNum / 10000)}.${Math.floor(versionNum / 100) % 100} has no FOR UPDATE SKIP LOCKED; the database driver needs PostgreSQL 9.5 or newer`;
}
