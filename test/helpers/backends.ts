/**
 * The backends the contract suite runs against. Locally, one that cannot be reached is skipped with
 * a line that says so; under CI (CI=true) every backend is required and a missing one fails.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { ServerDatabaseConnectionConfig } from '../../src/config/define.ts';
import { DatabaseDriver } from '../../src/drivers/database/DatabaseDriver.ts';
import type { SqlDialect } from '../../src/drivers/database/dialects/dialect.ts';
import { mysqlDialect } from '../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../src/drivers/database/dialects/postgres.ts';
import { tableNames, type TableNames } from '../../src/drivers/database/schema.ts';
import { sqliteDialect } from '../../src/drivers/database/dialects/sqlite.ts';
import { env } from '../../src/env.ts';
import type { Driver } from '../../src/contract/driver.ts';
import { Redis } from 'ioredis';
import { redisTarget } from '../../src/drivers/redis/connect.ts';
import { RedisDriver } from '../../src/drivers/redis/RedisDriver.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Whether Redis answers PING within a second; the reason when it does not. */
export async function redisUnavailable(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `cannot reach ${url.replace(/\/\/[^@]*@/, '//')}: ${(error as Error).message}`;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under a prefix (test isolation). */
export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url);
  try {
    const keys: string[] = [];
    for (let cursor = '0'; ; ) {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  } finally {
    client.disconnect();
  }
}

export function redisBackend(): Backend {
  const prefixes: string[] = [];
  const open = (connection = 'redis') => new RedisDriver(connection, redisTarget({ driver: 'redis', url: REDIS_URL }), prefixes.at(-1)!);
  return {
    name: 'redis',
    unavailable: () => redisUnavailable(),
    async create(connection) {
      prefixes.push(`test-${randomUUID()}`);
      return open(connection);
    },
    async sibling() {
      return open();
    },
    async cleanup() {
      for (const prefix of prefixes) await deleteRedisPrefix(prefix);
    },
  };
}

export interface Backend {
  name: string;
  /** Resolves to a reason when the backend cannot be reached. */
  unavailable(): Promise<string | undefined>;
  /** A fresh, empty driver; each call is isolated from the others. */
  create(connection?: string): Promise<Driver>;
  /** A second driver on the same storage as the last create() (another worker process). */
  sibling(): Promise<Driver>;
  /** SQL backends: the application's own kysely on the database of the last create(). */
  appDatabase?(): Kysely<any>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-contract-'));
  let counter = 0;
  let current = '';
  const open = (file: string, connection = 'database') =>
    new DatabaseDriver(connection, sqliteDialect(file), tableNames({}), { autoMigrate: true });
  return {
    name: 'sqlite',
    unavailable: async () => undefined,
    async create(connection) {
      current = path.join(dir, `db-${++counter}.sqlite`);
      return open(current, connection);
    },
    async sibling() {
      return open(current);
    },
    appDatabase: () => sqliteDialect(current).connect(),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function serverDatabaseConfig(client: 'mysql' | 'postgres'): ServerDatabaseConnectionConfig {
  return { driver: 'database', client, url: client === 'mysql' ? MYSQL_URL : POSTGRES_URL, pool: 4 };
}

function dialectFor(client: 'mysql' | 'postgres'): SqlDialect {
  const config = serverDatabaseConfig(client);
  return client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {});
}

/** Whether the server answers; the reason when it does not. */
export async function databaseUnavailable(client: 'mysql' | 'postgres'): Promise<string | undefined> {
  const db = dialectFor(client).connect();
  try {
    await sql`select 1`.execute(db);
    return undefined;
  } catch (error) {
    return `cannot reach ${client}: ${(error as Error).message}`;
  } finally {
    await db.destroy();
  }
}

/** A MySQL/MariaDB or PostgreSQL backend: every create() gets tables of its own, dropped at cleanup. */
export function serverDatabaseBackend(client: 'mysql' | 'postgres'): Backend {
  const created: TableNames[] = [];
  const open = (tables: TableNames, connection = 'database') => new DatabaseDriver(connection, dialectFor(client), tables, { autoMigrate: false });
  return {
    name: client === 'mysql' ? 'mariadb' : 'postgres',
    unavailable: () => databaseUnavailable(client),
    async create(connection) {
      const base = `t_${randomUUID().slice(0, 8)}`;
      const tables = tableNames({ table: `${base}_jobs`, failedTable: `${base}_failed` });
      created.push(tables);
      const driver = open(tables, connection);
      await driver.migrate();
      return driver;
    },
    async sibling() {
      return open(created.at(-1)!);
    },
    appDatabase: () => dialectFor(client).connect(),
    async cleanup() {
      const db = dialectFor(client).connect();
      try {
        for (const t of created) {
          for (const table of everyTable(t)) await db.schema.dropTable(table).ifExists().execute();
        }
      } finally {
        await db.destroy();
      }
    },
  };
}

/** Every table a connection of these names has: to drop them all after a test. */
export function everyTable(tables: TableNames): string[] {
  return [...Object.values(tables), `${tables.jobs}_migrations`, `${tables.jobs}_migrations_lock`];
}

export const backends: (() => Backend)[] = [sqliteBackend, redisBackend, () => serverDatabaseBackend('mysql'), () => serverDatabaseBackend('postgres')];

/** Returns the reason to skip, or throws under CI where every backend is required. */
export async function skipReason(backend: Backend): Promise<string | undefined> {
  const reason = await backend.unavailable();
  if (reason === undefined) return undefined;
  if (env.isCI()) throw new Error(`backend ${backend.name} is required under CI but unreachable: ${reason}`);
  console.log(`# skipping backend ${backend.name}: ${reason}`);
  return reason;
}

/** A contract suite's drivers on one backend (see suiteDrivers). */
export interface SuiteDrivers {
  /** Why the backend's cases skip (undefined: they run). */
  skip: string | undefined;
  /** A driver on fresh, empty storage. */
  fresh(): Promise<Driver>;
  /**
   * `n` drivers on the last fresh() storage, for cases of workers at once: other processes' on a
   * server; on SQLite the one driver `n` times, as dispatch() shares one per process (drivers of
   * one process on one file would deadlock: better-sqlite3 waits for the file's write lock
   * synchronously, so the holder's next statement never runs); processes meet at the lock.
   */
  atOnce(first: Driver, n: number): Promise<Driver[]>;
}

/**
 * Inside a describe() of one backend: its skip reason, and drivers that are all closed (and the
 * backend cleaned up) once the suite is over; the first one is opened before the first case.
 */
export async function suiteDrivers(backend: Backend): Promise<SuiteDrivers> {
  const skip = await skipReason(backend);
  const open: Driver[] = [];
  const track = async (opening: Promise<Driver>) => {
    const driver = await opening;
    open.push(driver);
    return driver;
  };
  before(async () => {
    if (!skip) await track(backend.create());
  });
  after(async () => {
    await Promise.all(open.map((d) => d.close()));
    await backend.cleanup();
  });
  return {
    skip,
    fresh: () => track(backend.create()),
    atOnce: async (first, n) => [first, ...(await Promise.all(Array.from({ length: n - 1 }, () => (backend.name === 'sqlite' ? first : track(backend.sibling())))))],
  };
}
