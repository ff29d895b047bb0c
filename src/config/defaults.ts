/**
 * The configuration a project gets from config/queue.ts as shipped, and without one: the
 * `database` connection on an SQLite file under the project, so nothing needs a server.
 */
import { env } from '../env.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../jobs/payload.ts';
import { durationMs, type Duration, type Keep } from '../jobs/settings.ts';
import { DEFAULT_REDIS_PREFIX, DEFAULT_TABLES, defineConfig, type DatabaseConnectionConfig, type RedisConnectionConfig, type ResolvedConfig } from './define.ts';

export function defaultConfig(): ResolvedConfig {
  return defineConfig({
    default: env.string('QUEUE_CONNECTION', 'database'),
    connections: {
      database: databaseFromEnv(),
      redis: redisFromEnv(),
      sync: { driver: 'sync' },
    },
    ...securityFromEnv(),
  });
}

/** The redis connection as the REDIS_* variables describe it. */
export function redisFromEnv(): RedisConnectionConfig {
  const url = env.url('REDIS_URL', ['redis:', 'rediss:']);
  const cluster = env.optional('REDIS_CLUSTER_NODES');
  return {
    driver: 'redis',
    url: url?.href,
    host: env.string('REDIS_HOST', '127.0.0.1'),
    port: env.int('REDIS_PORT', 6379, { min: 1, max: 65535 }),
    db: env.int('REDIS_DB', 0, { min: 0, max: 15 }),
    username: env.optional('REDIS_USERNAME'),
    password: env.optional('REDIS_PASSWORD'),
    tls: env.bool('REDIS_TLS', false),
    cluster: cluster ? cluster.split(',').map((node) => node.trim()) : undefined,
    prefix: env.string('REDIS_PREFIX', DEFAULT_REDIS_PREFIX),
    keep: keepFromEnv(),
  };
}

/**
 * How long finished records are kept, from QUEUE_KEEP_COMPLETED (a duration like 1h, or `false`
 * to keep none) and QUEUE_KEEP_COUNT (per queue); unset, the defaults (1 hour, 1,000).
 */
export function keepFromEnv(): Keep | undefined {
  const completed = env.optional('QUEUE_KEEP_COMPLETED');
  const count = env.optional('QUEUE_KEEP_COUNT');
  if (completed === 'false') return false;
  if (completed === undefined && count === undefined) return undefined;
  const keep: { completed?: Duration; count?: number } = {};
  if (completed !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(completed) ? Number(completed) : completed;
    durationMs(seconds, 'QUEUE_KEEP_COMPLETED');
    keep.completed = seconds as Duration;
  }
  if (count !== undefined) keep.count = env.int('QUEUE_KEEP_COUNT', 1_000, { min: 0, max: 10_000_000 });
  return keep;
}

/** The database connection as DB_CONNECTION and the DB_* variables (or DATABASE_URL) describe it. */
export function databaseFromEnv(): DatabaseConnectionConfig {
  const client = env.oneOf('DB_CONNECTION', ['sqlite', 'mysql', 'postgres'] as const, 'sqlite');
  const tables = { table: env.string('DB_QUEUE_TABLE', DEFAULT_TABLES.table), failedTable: env.string('DB_FAILED_TABLE', DEFAULT_TABLES.failedTable) };
  if (client === 'sqlite') return { driver: 'database', client, filename: env.string('DB_DATABASE', 'storage/queue.sqlite'), ...tables, keep: keepFromEnv() };
  const url = env.url('DATABASE_URL', client === 'mysql' ? ['mysql:', 'mariadb:'] : ['postgres:', 'postgresql:']);
  return {
    driver: 'database',
    client,
    url: url?.href,
    host: env.string('DB_HOST', '127.0.0.1'),
    port: env.int('DB_PORT', client === 'mysql' ? 3306 : 5432, { min: 1, max: 65535 }),
    database: url ? undefined : env.string('DB_NAME'),
    user: env.string('DB_USER', client === 'mysql' ? 'root' : 'postgres'),
    password: env.optional('DB_PASS'),
    pool: env.int('DB_POOL', 10, { min: 1, max: 1000 }),
    ...tables,
    keep: keepFromEnv(),
  };
}

/** APP_KEY, QUEUE_SIGNED and QUEUE_MAX_PAYLOAD_BYTES. */
export function securityFromEnv(): { appKey?: string; signed: boolean; maxPayloadBytes: number } {
  return {
    appKey: env.optional('APP_KEY'),
    signed: env.bool('QUEUE_SIGNED', false),
    maxPayloadBytes: env.int('QUEUE_MAX_PAYLOAD_BYTES', DEFAULT_MAX_PAYLOAD_BYTES, { min: 1024 }),
  };
}
