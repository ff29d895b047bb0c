/**
 * Queue connections, Laravel style. Every value comes from the environment (.env is loaded first);
 * .env.example documents each variable.
 */
import { defineConfig, env, redisFromEnv } from 'queue';

export default defineConfig({
  // The connection dispatch() and `queue work` use when none is named.
  default: env.string('QUEUE_CONNECTION', 'database'),

  connections: {
    // SQL tables; SQLite out of the box: a file under the project, no server needed.
    database: {
      driver: 'database',
      client: env.oneOf('DB_CONNECTION', ['sqlite'] as const, 'sqlite'),
      filename: env.string('DB_DATABASE', 'storage/queue.sqlite'),
      table: 'queue_jobs',
      failedTable: 'queue_failed_jobs',
    },

    // Redis lists and sorted sets, from REDIS_URL or REDIS_HOST/PORT/DB/PASSWORD (see .env.example).
    redis: redisFromEnv(),

    // Runs each job inline at dispatch: for tests and development.
    sync: { driver: 'sync' },
  },

  jobs: 'app/jobs',

  // Seconds added to a job's timeout to make its lease: how long a crashed worker's job waits
  // before another worker takes it.
  leaseMargin: env.int('QUEUE_LEASE_MARGIN', 30),
});
