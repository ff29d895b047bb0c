/** A database connection's driver, from its config: the dialect of its client, and its tables. */
import path from 'node:path';
import type { DatabaseConnectionConfig } from '../../config/define.ts';
import { DatabaseDriver } from './DatabaseDriver.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import { tableNames } from './schema.ts';
import { withPackage } from '../optional-package.ts';

/**
 * `root`: where a relative SQLite file lives. `onIdleClientError`: a pooled PostgreSQL client that
 * lost its server while idle (it is dropped; worth a log line). SQLite creates its tables on first
 * use; other servers need `queue migrate`.
 */
export async function openDatabase(name: string, config: DatabaseConnectionConfig, root: string, onIdleClientError: (error: Error) => void): Promise<DatabaseDriver> {
  return new DatabaseDriver(name, await dialectFor(name, config, root, onIdleClientError), tableNames(config), { autoMigrate: config.client === 'sqlite' });
}

/** The dialect of the connection's client; mysql2 and pg are optional packages, loaded only here. */
async function dialectFor(name: string, config: DatabaseConnectionConfig, root: string, onIdleClientError: (error: Error) => void): Promise<SqlDialect> {
  switch (config.client) {
    case 'sqlite':
      return (await import('./dialects/sqlite.ts')).sqliteDialect(path.resolve(root, config.filename));
    case 'mysql':
      return (await withPackage('mysql2', name, () => import('./dialects/mysql.ts'))).mysqlDialect(config);
    case 'postgres':
      return (await withPackage('pg', name, () => import('./dialects/postgres.ts'))).postgresDialect(config, onIdleClientError);
  }
}
