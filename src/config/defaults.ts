/**
 * The configuration a project gets from config/queue.ts as shipped, and without one: the
 * `database` connection on an SQLite file under the project, so nothing needs a server.
 */
import { env } from '../env.ts';
import { defineConfig, type ResolvedConfig } from './define.ts';

export function defaultConfig(): ResolvedConfig {
  return defineConfig({
    default: env.string('QUEUE_CONNECTION', 'database'),
    connections: {
      database: {
        driver: 'database',
        client: env.oneOf('DB_CONNECTION', ['sqlite'] as const, 'sqlite'),
        filename: env.string('DB_DATABASE', 'storage/queue.sqlite'),
      },
      sync: { driver: 'sync' },
    },
  });
}
