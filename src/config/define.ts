/**
 * Typed configuration, Laravel style: config/queue.ts default-exports defineConfig({...}). The
 * object is validated once, here, with the cross-checks a typo would otherwise turn into a
 * confusing failure much later (the default connection must exist, names must be sane).
 */
import { QueueError } from '../errors.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, payloadRules } from '../jobs/payload.ts';
import { retentionOf, type Keep } from '../jobs/settings.ts';

/** The tables of a database connection that names none (DB_QUEUE_TABLE, DB_FAILED_TABLE). */
export const DEFAULT_TABLES = { table: 'queue_jobs', failedTable: 'queue_failed_jobs' } as const;

/** The first part of every Redis key of a connection that names none (REDIS_PREFIX). */
export const DEFAULT_REDIS_PREFIX = 'queue';

export interface SqliteConnectionConfig {
  driver: 'database';
  client: 'sqlite';
  /** Path of the database file, relative to the project root. */
  filename: string;
  table?: string;
  failedTable?: string;
  /** How long records of finished jobs are kept (default 1 hour, 1,000 per queue; false: none). */
  keep?: Keep;
}

export interface ServerDatabaseConnectionConfig {
  driver: 'database';
  client: 'mysql' | 'postgres';
  /** mysql://user:pass@host:port/db or postgres://...; wins over the parts below. */
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  /** Connections in the pool (default 10). */
  pool?: number;
  table?: string;
  failedTable?: string;
  /** How long records of finished jobs are kept (default 1 hour, 1,000 per queue; false: none). */
  keep?: Keep;
}

export type DatabaseConnectionConfig = SqliteConnectionConfig | ServerDatabaseConnectionConfig;

export type DatabaseClient = DatabaseConnectionConfig['client'];

export interface RedisConnectionConfig {
  driver: 'redis';
  /** redis:// or rediss:// (TLS); wins over host/port/db/password. */
  url?: string;
  host?: string;
  port?: number;
  db?: number;
  username?: string;
  password?: string;
  tls?: boolean;
  /** Cluster seed nodes as host:port; when set, the connection is a Redis Cluster. */
  cluster?: string[];
  /** The first part of every key (default DEFAULT_REDIS_PREFIX, 'queue'); no braces. */
  prefix?: string;
  /** How long records of finished jobs are kept (default 1 hour, 1,000 per queue; false: none). */
  keep?: Keep;
}

export interface SyncConnectionConfig {
  driver: 'sync';
}

export type ConnectionConfig = DatabaseConnectionConfig | RedisConnectionConfig | SyncConnectionConfig;

/** What a connection runs on, as people name it: sqlite, mysql, postgres, redis or sync. */
export function backendKind(connection: ConnectionConfig): 'sqlite' | 'mysql' | 'postgres' | 'redis' | 'sync' {
  return connection.driver === 'database' ? connection.client : connection.driver;
}

export interface QueueConfig {
  /** The connection dispatch() and `queue work` use when none is named. */
  default: string;
  connections: Record<string, ConnectionConfig>;
  /** Where job classes live, relative to the project root. */
  jobs?: string;
  /**
   * Seconds added to a job's timeout to make its lease. A lease only runs out when a worker died
   * or hung, so this is how long a crashed worker's job waits before another worker takes it.
   */
  leaseMargin?: number;
  /** APP_KEY: `base64:` + 32 bytes; needed for encrypted jobs and signed payloads. */
  appKey?: string;
  /** Sign every payload and run only signed ones (QUEUE_SIGNED). */
  signed?: boolean;
  /** The largest encoded payload in bytes (QUEUE_MAX_PAYLOAD_BYTES, default 16 MiB). */
  maxPayloadBytes?: number;
}

export interface ResolvedConfig extends Required<Omit<QueueConfig, 'appKey'>> {
  appKey: string | undefined;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function defineConfig(config: QueueConfig): ResolvedConfig {
  // `?? default`, not a spread: `jobs: env.optional(...)` may be an explicit undefined.
  const resolved: ResolvedConfig = {
    ...config,
    jobs: config.jobs ?? 'app/jobs',
    leaseMargin: config.leaseMargin ?? 30,
    appKey: config.appKey,
    signed: config.signed ?? false,
    maxPayloadBytes: config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
  };
  const names = Object.keys(resolved.connections ?? {});
  if (names.length === 0) throw configError('defines no connections');
  for (const name of names) {
    if (!NAME.test(name)) throw configError(`has a connection named '${name}'; use letters, digits, '_', '-' or '.'`);
    const connection = resolved.connections[name]!;
    validateConnection(name, connection);
    if (connection.driver !== 'sync') retentionOf(undefined, connection.keep, `config/queue.ts: connection '${name}'`);
  }
  if (!resolved.connections[resolved.default]) {
    throw configError(
      `names '${resolved.default}' as the default connection (QUEUE_CONNECTION), but defines only: ${names.join(', ')}`,
    );
  }
  if (!Number.isFinite(resolved.leaseMargin) || resolved.leaseMargin < 0) {
    throw configError('has a leaseMargin that is not a number of seconds >= 0');
  }
  if (!Number.isInteger(resolved.maxPayloadBytes) || resolved.maxPayloadBytes < 1024) {
    throw configError('has a maxPayloadBytes (QUEUE_MAX_PAYLOAD_BYTES) that is not a whole number of bytes >= 1024');
  }
  // Checks APP_KEY's form now (and QUEUE_SIGNED's need for it), not at the first encrypted job.
  payloadRules(resolved);
  return resolved;
}

function validateConnection(name: string, connection: ConnectionConfig): void {
  switch (connection?.driver) {
    case 'sync':
      return;
    case 'redis': {
      if (connection.prefix !== undefined && !/^[^{}\s]+$/.test(connection.prefix)) {
        throw configError(`connection '${name}' has prefix '${connection.prefix}' (REDIS_PREFIX); use no braces or spaces`);
      }
      if (connection.url !== undefined && !/^rediss?:\/\//.test(connection.url)) {
        throw configError(`connection '${name}' has a url (REDIS_URL) that does not start with redis:// or rediss://`);
      }
      for (const node of connection.cluster ?? []) {
        if (!/^[^:\s]+:\d+$/.test(node)) throw configError(`connection '${name}' has cluster node '${node}' (REDIS_CLUSTER_NODES); use host:port`);
      }
      return;
    }
    case 'database': {
      if (connection.client === 'sqlite') {
        if (!connection.filename) throw configError(`connection '${name}' has no filename (DB_DATABASE)`);
      } else if (connection.client === 'mysql' || connection.client === 'postgres') {
        if (connection.url !== undefined && !/^(mysql|mariadb|postgres|postgresql):\/\//.test(connection.url)) {
          throw configError(`connection '${name}' has a url (DATABASE_URL) that does not start with mysql:// or postgres://`);
        }
        if (connection.url === undefined && !connection.database) throw configError(`connection '${name}' names no database (DB_NAME or DATABASE_URL)`);
        if (connection.pool !== undefined && !(Number.isInteger(connection.pool) && connection.pool >= 1)) throw configError(`connection '${name}' has a pool size that is not a whole number >= 1 (DB_POOL)`);
      } else {
        throw configError(`connection '${name}' has client '${String((connection as { client?: unknown }).client)}' (DB_CONNECTION); use sqlite, mysql or postgres`);
      }
      for (const key of ['table', 'failedTable'] as const) {
        const table = connection[key];
        if (table !== undefined && !TABLE.test(table)) throw configError(`connection '${name}' has an invalid ${key} '${table}'`);
      }
      return;
    }
    default:
      throw configError(`connection '${name}' has unknown driver '${String((connection as { driver?: unknown })?.driver)}'; use database, redis or sync`);
  }
}

function configError(message: string): QueueError {
  return new QueueError('CONFIG_INVALID', `config/queue.ts ${message}`);
}
