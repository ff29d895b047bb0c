/**
 * Queue connections, Laravel style. Every value comes from the environment (.env is loaded first);
 * .env.example documents each variable.
 */
import { databaseFromEnv, defineConfig, env, redisFromEnv, securityFromEnv } from 'queuework';

export default defineConfig({
  // The connection dispatch() and `queue work` use when none is named.
  default: env.string('QUEUE_CONNECTION', 'database'),

  connections: {
    // SQL tables: SQLite out of the box (a file under the project, no server needed), or MySQL/MariaDB
    // or PostgreSQL with DB_CONNECTION=mysql|postgres and DB_HOST/PORT/NAME/USER/PASS or DATABASE_URL.
    database: databaseFromEnv(),

    // Redis lists and sorted sets, from REDIS_URL or REDIS_HOST/PORT/DB/PASSWORD (see .env.example).
    redis: redisFromEnv(),

    // Runs each job inline at dispatch: for tests and development.
    sync: { driver: 'sync' },
  },

  jobs: 'app/jobs',

  // Seconds added to a job's timeout to make its lease: how long a crashed worker's job waits
  // before another worker takes it.
  leaseMargin: env.int('QUEUE_LEASE_MARGIN', 30),

  // APP_KEY (encrypted jobs, signed payloads), QUEUE_SIGNED and QUEUE_MAX_PAYLOAD_BYTES.
  ...securityFromEnv(),
});
