/**
 * Numbered migrations, run by `queue migrate` (and on first use on SQLite). Each is applied once
 * and recorded in `queue_migrations`, so running migrate again changes nothing.
 */
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { SqlDialect } from './dialects/dialect.ts';
import type { TableNames } from './schema.ts';

function createQueueTables(t: TableNames, dialect: SqlDialect): Migration {
  // MySQL's TEXT holds 64 KB; payloads and stacks need LONGTEXT there (>= 16 MB).
  const text = dialect.types.text === 'longtext' ? sql`longtext` : 'text';
  const options = <T extends string, C extends string>(table: CreateTableBuilder<T, C>) => (dialect.tableSuffix ? table.modifyEnd(dialect.tableSuffix) : table);
  return {
    async up(db: Kysely<any>) {
      await options(db.schema
        .createTable(t.jobs)
        .ifNotExists()
        .addColumn('id', dialect.types.id, (c) => (dialect.types.id === 'bigserial' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('job_id', 'varchar(64)')
        .addColumn('queue', 'varchar(255)', (c) => c.notNull())
        .addColumn('payload', text, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('timeout_ms', 'bigint')
        .addColumn('available_at', 'bigint', (c) => c.notNull())
        .addColumn('reserved_by', 'varchar(64)')
        .addColumn('created_at', 'bigint', (c) => c.notNull()))
        .execute();
      // Serves the claim: WHERE queue = ? AND available_at <= ? ORDER BY available_at, id LIMIT n.
      await db.schema.createIndex(`${t.jobs}_claim`).ifNotExists().on(t.jobs).columns(['queue', 'available_at', 'id']).execute();

      await options(db.schema
        .createTable(t.failed)
        .ifNotExists()
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('connection', 'varchar(255)', (c) => c.notNull())
        .addColumn('queue', 'varchar(255)', (c) => c.notNull())
        .addColumn('job', 'varchar(255)')
        .addColumn('payload', text, (c) => c.notNull())
        .addColumn('exception', text, (c) => c.notNull())
        .addColumn('failed_at', 'bigint', (c) => c.notNull()))
        .execute();
      await db.schema.createIndex(`${t.failed}_failed_at`).ifNotExists().on(t.failed).columns(['failed_at']).execute();
      await db.schema.createIndex(`${t.failed}_queue`).ifNotExists().on(t.failed).columns(['queue', 'failed_at']).execute();

      await options(db.schema
        .createTable(t.signals)
        .ifNotExists()
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull()))
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of [t.signals, t.failed, t.jobs]) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}

/**
 * One row per job id: a push sent again after its reply was lost (a dropped connection) stores
 * nothing twice, and a job can be found by its id. Rows written by hand may have no id (NULLs never
 * collide).
 */
function uniqueJobIds(t: TableNames): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex(`${t.jobs}_job_id`).unique().on(t.jobs).column('job_id').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex(`${t.jobs}_job_id`).execute();
    },
  };
}

/**
 * Job records (SPEC 11): a job's row stays in its table once it completes or is cancelled, as its
 * record (a failure still moves to the failed table): its state, result, finish time and the end of
 * its keep, beside when its try started and what it last reported as its progress. Marking a row
 * finished is one UPDATE, as cheap as the DELETE it replaces; its available_at moves past every
 * claim's range, so the claim's index never reaches it. Indexed for listing one state of one queue
 * newest first and for pruning by keep time (partial indexes where the database has them, so
 * waiting rows cost them nothing). Rows of earlier releases get NULLs: waiting, nothing to backfill.
 */
function jobRecords(t: TableNames, dialect: SqlDialect): Migration {
  const text = dialect.types.text === 'longtext' ? sql`longtext` : 'text';
  const partial = dialect.client !== 'mysql';
  return {
    async up(db: Kysely<any>) {
      for (const [column, type] of [['started_at', 'bigint'], ['progress', text], ['state', 'varchar(16)'], ['result', text], ['finished_at', 'bigint'], ['expires_at', 'bigint']] as const) {
        await db.schema.alterTable(t.jobs).addColumn(column, type as never).execute();
      }
      let list = db.schema.createIndex(`${t.jobs}_records`).ifNotExists().on(t.jobs).columns(['state', 'queue', 'finished_at', 'id']);
      let expires = db.schema.createIndex(`${t.jobs}_expires`).ifNotExists().on(t.jobs).columns(['expires_at']);
      if (partial) {
        list = list.where(sql.ref('state'), 'is not', null);
        expires = expires.where(sql.ref('state'), 'is not', null);
      }
      await list.execute();
      await expires.execute();
    },
    async down(db: Kysely<any>) {
      for (const index of [`${t.jobs}_records`, `${t.jobs}_expires`]) {
        await (dialect.client === 'mysql' ? db.schema.dropIndex(index).on(t.jobs) : db.schema.dropIndex(index)).execute();
      }
      for (const column of ['expires_at', 'finished_at', 'result', 'state', 'progress', 'started_at']) await db.schema.alterTable(t.jobs).dropColumn(column).execute();
    },
  };
}

/**
 * Priorities, unique jobs and expiry (SPEC 12). The claim's index gains the priority, highest
 * first, so each priority's rows are one range (sql/claim.ts); it replaces the index on (queue,
 * available_at, id), which its priority-0 range serves the same way. A unique key is unique per
 * queue (one index, which the push's INSERT skips on); a hold that ran out is freed by the next push
 * of its key. start_by is indexed for the prune that expires the jobs no claim reached in time.
 */
function priorityUniqueExpiry(t: TableNames, dialect: SqlDialect): Migration {
  const partial = dialect.client !== 'mysql';
  const dropIndex = (db: Kysely<any>, index: string) => (dialect.client === 'mysql' ? db.schema.dropIndex(index).on(t.jobs) : db.schema.dropIndex(index)).execute();
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable(t.jobs).addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      for (const [column, type] of [['start_by', 'bigint'], ['unique_key', 'varchar(255)'], ['unique_lapses_at', 'bigint'], ['unique_on_start', 'smallint']] as const) {
        await db.schema.alterTable(t.jobs).addColumn(column, type).execute();
      }
      await db.schema.createIndex(`${t.jobs}_pick`).on(t.jobs).columns(['queue', 'priority desc', 'available_at', 'id']).execute();
      await dropIndex(db, `${t.jobs}_claim`);
      let unique = db.schema.createIndex(`${t.jobs}_unique`).unique().on(t.jobs).columns(['queue', 'unique_key']);
      let startBy = db.schema.createIndex(`${t.jobs}_start_by`).on(t.jobs).columns(['start_by']);
      if (partial) {
        unique = unique.where(sql.ref('unique_key'), 'is not', null);
        startBy = startBy.where(sql.ref('start_by'), 'is not', null);
      }
      await unique.execute();
      await startBy.execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.createIndex(`${t.jobs}_claim`).on(t.jobs).columns(['queue', 'available_at', 'id']).execute();
      for (const index of [`${t.jobs}_pick`, `${t.jobs}_unique`, `${t.jobs}_start_by`]) await dropIndex(db, index);
      for (const column of ['unique_on_start', 'unique_lapses_at', 'unique_key', 'start_by', 'priority']) await db.schema.alterTable(t.jobs).dropColumn(column).execute();
    },
  };
}

/** Schedules (SPEC 12): one row per schedule's cursor, run-time definition and pause. */
function schedules(t: TableNames, dialect: SqlDialect): Migration {
  const text = dialect.types.text === 'longtext' ? sql`longtext` : 'text';
  return {
    async up(db: Kysely<any>) {
      let table = db.schema
        .createTable(t.schedules)
        .ifNotExists()
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('last_at', 'bigint')
        .addColumn('fired_at', 'bigint')
        .addColumn('paused', 'smallint', (c) => c.notNull().defaultTo(0))
        .addColumn('definition', text);
      if (dialect.tableSuffix) table = table.modifyEnd(dialect.tableSuffix);
      await table.execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable(t.schedules).ifExists().execute();
    },
  };
}

/**
 * Monitoring (SPEC 15): a row per worker that beats, indexed by the end of its lease for the
 * delete of those that stopped beating; and a count per queue, minute and field, minute 0 holding
 * the all-time totals. A beat adds to its rows by their primary key; the index on minute serves
 * reading every queue from one minute on and the delete of minutes older than a day. A worker's id
 * is host:pid:random, and a host name may have 64 characters (a Kubernetes pod's often has near
 * that many): varchar(255). In MySQL's utf8mb4 the metrics key takes 1,284 bytes, within InnoDB's
 * 3,072.
 */
function monitoring(t: TableNames, dialect: SqlDialect): Migration {
  const text = dialect.types.text === 'longtext' ? sql`longtext` : 'text';
  const options = <T extends string, C extends string>(table: CreateTableBuilder<T, C>) => (dialect.tableSuffix ? table.modifyEnd(dialect.tableSuffix) : table);
  return {
    async up(db: Kysely<any>) {
      await options(db.schema
        .createTable(t.workers)
        .ifNotExists()
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('queues', text, (c) => c.notNull())
        .addColumn('concurrency', 'integer', (c) => c.notNull())
        .addColumn('running', text, (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('jobs_done', 'bigint', (c) => c.notNull())
        .addColumn('rss_bytes', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('beat_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull()))
        .execute();
      await db.schema.createIndex(`${t.workers}_expires_at`).on(t.workers).columns(['expires_at']).execute();

      await options(db.schema
        .createTable(t.metrics)
        .ifNotExists()
        .addColumn('queue', 'varchar(255)', (c) => c.notNull())
        .addColumn('minute', 'bigint', (c) => c.notNull())
        .addColumn('field', 'varchar(64)', (c) => c.notNull())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint(`${t.metrics}_pkey`, ['queue', 'minute', 'field']))
        .execute();
      await db.schema.createIndex(`${t.metrics}_minute`).on(t.metrics).columns(['minute']).execute();
    },
    async down(db: Kysely<any>) {
      for (const table of [t.metrics, t.workers]) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}

function migrationsFor(tables: TableNames, dialect: SqlDialect): Record<string, Migration> {
  return {
    '001_create_queue_tables': createQueueTables(tables, dialect),
    '002_unique_job_ids': uniqueJobIds(tables),
    '003_job_records': jobRecords(tables, dialect),
    '004_priority_unique_expiry': priorityUniqueExpiry(tables, dialect),
    '005_schedules': schedules(tables, dialect),
    '006_monitoring': monitoring(tables, dialect),
  };
}

export interface MigrationResult {
  applied: string[];
}

/** Applies every migration not applied yet (or those up to `target`, which upgrade tests use to build an earlier release's tables). */
export async function migrate(db: Kysely<any>, tables: TableNames, dialect: SqlDialect, target?: string): Promise<MigrationResult> {
  const migrations = migrationsFor(tables, dialect);
  const run = async (db: Kysely<any>) => {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => migrations },
      migrationTableName: `${tables.jobs}_migrations`,
      migrationLockTableName: `${tables.jobs}_migrations_lock`,
    });
    const { error, results } = await (target === undefined ? migrator.migrateToLatest() : migrator.migrateTo(target));
    if (error) throw error;
    return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
  };
  if (dialect.client !== 'sqlite') return run(db);
  // Kysely locks the migrations on MySQL and PostgreSQL, not on SQLite, where processes that open a
  // new file at once (a worker and a dispatch, on first use) would each apply them: there the run is
  // one transaction that holds the write lock, and the second finds nothing left to do. A file that
  // is up to date takes no lock at all: in one process, a second connection to the file that held
  // the lock across awaits would stall the first one's writes (better-sqlite3 waits synchronously).
  if (target === undefined && (await applied(db, `${tables.jobs}_migrations`)).size === Object.keys(migrations).length) return { applied: [] };
  return oneAtATime(dialect.describe, () => dialect.writeTransaction(db, run));
}

/** The names of the migrations recorded as applied (none when the table does not exist yet). */
async function applied(db: Kysely<any>, table: string): Promise<Set<string>> {
  try {
    const rows = await db.selectFrom(table).select('name').execute();
    return new Set(rows.map((row: { name: string }) => row.name));
  } catch {
    return new Set();
  }
}

/** In this process, one migration of a given SQLite file at a time (across processes, its write lock). */
const migrating = new Map<string, Promise<unknown>>();

function oneAtATime<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = migrating.get(file) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(work);
  migrating.set(file, next);
  void next.finally(() => {
    if (migrating.get(file) === next) migrating.delete(file);
  }).catch(() => undefined);
  return next;
}
