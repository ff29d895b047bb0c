/**
 * The configuration a project gets from config/queue.ts as shipped, and without one: the
 * `database` connection on an SQLite file under the project, so nothing needs a server.
 */
import { env } from '../env.ts';
import { defineConfig, type RedisConnectionConfig, type ResolvedConfig } from './define.ts';

export function defaultConfig(): ResolvedConfig {
  return defineConfig({
    default: env.string('QUEUE_CONNECTION', 'database'),
    connections: {
      database: {
        driver: 'database',
        client: env.oneOf('DB_CONNECTION', ['sqlite'] as const, 'sqlite'),
        filename: env.string('DB_DATABASE', 'storage/queue.sqlite'),
      },
      redis: redisFromEnv(),
      sync: { driver: 'sync' },
    },
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
    prefix: env.string('REDIS_PREFIX', 'queue'),
  };
}
