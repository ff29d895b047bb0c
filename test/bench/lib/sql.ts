/**
 * Part 2: our database driver on SQLite (a file in a temp dir), MariaDB and PostgreSQL. Every
 * measurement gets fresh, uniquely named tables (created with DatabaseDriver.migrate(), dropped
 * afterwards) and is timed either in this process (one Worker) or as 4 `queue work` processes.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DatabaseConnectionConfig, ServerDatabaseConnectionConfig } from '../../../src/config/define.ts';
import type { DatabaseDriver } from '../../../src/drivers/database/DatabaseDriver.ts';
import type { WorkerOptions } from '../../../src/worker/Worker.ts';
import { mysqlDialect } from '../../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../../src/drivers/database/dialects/postgres.ts';
import { tableNames } from '../../../src/drivers/database/schema.ts';
import { everyTable, MYSQL_URL, POSTGRES_URL } from '../../helpers/backends.ts';
import { childEnv, expectExit0, readRecords, startQueue, summarizeLogs } from './children.ts';
import { BenchFailure, QUEUE, RETENTION, elapsedSince, progress, verifyExactlyOnce } from './common.ts';
import { BULK_CHUNK, drainOurs, leftAfterRun, openOurs, pushOurs, type Ours } from './ours.ts';

export type SqlBackend = 'sqlite' | 'mariadb' | 'postgres';

export const SQL_BACKENDS: readonly SqlBackend[] = ['sqlite', 'mariadb', 'postgres'];

/** `queue work` processes of the multi-process runs. */
export const PROCESSES = 4;
/** The connection pool of each process, in-process runs included: `queue work`'s default (DB_POOL). */
const POOL = 10;

interface Setup {
  config: DatabaseConnectionConfig;
  /** What a `queue work` child needs to reach the same tables. */
  env: Record<string, string>;
  dir: string;
}

function setupFor(backend: SqlBackend): Setup {
  const base = `bench_${randomUUID().slice(0, 8)}`;
  const table = `${base}_jobs`;
  const failedTable = `${base}_failed`;
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-bench-'));
  const tables = { DB_QUEUE_TABLE: table, DB_FAILED_TABLE: failedTable, QUEUE_CONNECTION: 'database', ...(RETENTION.keep === 'none' ? { QUEUE_KEEP_COMPLETED: 'false' } : {}) };
  if (backend === 'sqlite') {
    const filename = path.join(dir, 'queue.sqlite');
    return { dir, config: { driver: 'database', client: 'sqlite', filename, table, failedTable }, env: { ...tables, DB_CONNECTION: 'sqlite', DB_DATABASE: filename } };
  }
  const client = backend === 'mariadb' ? 'mysql' : 'postgres';
  const url = client === 'mysql' ? MYSQL_URL : POSTGRES_URL;
  return { dir, config: { driver: 'database', client, url, pool: POOL, table, failedTable }, env: { ...tables, DB_CONNECTION: client, DATABASE_URL: url, DB_POOL: String(POOL) } };
}

async function dropTables(config: ServerDatabaseConnectionConfig): Promise<void> {
  const db = (config.client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {})).connect();
  const jobs = config.table!;
  try {
    for (const table of everyTable(tableNames({ table: jobs, failedTable: config.failedTable }))) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  } finally {
    await db.destroy();
  }
}

/** Fresh tables, migrated, with n Noops pushed; everything is dropped after `work`. */
export async function withLoadedTables<T>(backend: SqlBackend, n: number, work: (ours: Ours, pushed: string[], setup: Setup) => Promise<T>): Promise<T> {
  const setup = setupFor(backend);
  const ours = await openOurs(setup.config);
  try {
    // The driver is the built one (see built.ts), so it is not an instance of src/'s class.
    const driver = ours.driver as unknown as Partial<DatabaseDriver>;
    if (typeof driver.migrate !== 'function') throw new BenchFailure(`${backend}: the connection did not open a database driver`);
    await driver.migrate();
    const pushed = await pushOurs(ours, n);
    return await work(ours, pushed, setup);
  } finally {
    await ours.close();
    if (setup.config.client !== 'sqlite') await dropTables(setup.config);
    rmSync(setup.dir, { recursive: true, force: true });
  }
}

/**
 * Dispatch into fresh tables: `one` jobs pushed one at a time (each awaited), then `bulk` in calls
 * of 1,000; returns the ms of each. The queue must then hold them all.
 */
export function sqlDispatch(backend: SqlBackend, one: number, bulk: number): Promise<{ oneMs: number; bulkMs: number }> {
  return withLoadedTables(backend, 0, async (ours) => {
    let start = performance.now();
    for (let i = 0; i < one; i++) await ours.manager.push([ours.job(i)]);
    const oneMs = elapsedSince(start);
    start = performance.now();
    await pushOurs(ours, bulk, BULK_CHUNK, one);
    const bulkMs = elapsedSince(start);
    const stored = await ours.driver.size(QUEUE);
    if (stored !== one + bulk) throw new BenchFailure(`${backend}: dispatched ${one + bulk} jobs, the queue holds ${stored}`);
    return { oneMs, bulkMs };
  });
}

/** One in-process worker drains n jobs; returns ms. */
export function sqlInProcess(backend: SqlBackend, n: number, concurrency: number, overrides: Partial<WorkerOptions> = {}): Promise<number> {
  return withLoadedTables(backend, n, (ours, pushed) => drainOurs(ours, `${backend}: one worker c=${concurrency}`, pushed, concurrency, overrides));
}

export interface ProcessesRun {
  ms: number;
  /** What the workers logged, counted by message. */
  logs: string[];
  /** Jobs that ran (each exactly once) but were still stored after every worker had exited 0. */
  left: number;
}

/**
 * 4 `queue work --stop-when-empty` processes drain n jobs, timed from the first spawn to the last
 * exit, process start-up (Node, tsx, config, job discovery) included; n = 0 times start-up alone.
 * Every pushed job must have run exactly once and nothing may fail; jobs still stored afterwards
 * are reported (`left`), not fatal: the work was done, and the report says why they stayed.
 */
export function sqlProcesses(backend: SqlBackend, n: number, concurrency: number): Promise<ProcessesRun> {
  return withLoadedTables(backend, n, async (ours, pushed, setup) => {
    const label = `${backend}: ${PROCESSES} processes c=${concurrency}`;
    const files = Array.from({ length: PROCESSES }, (_, i) => path.join(setup.dir, `ids-${i}.txt`));
    const args = ['work', '--stop-when-empty', '--concurrency', String(concurrency), '--queue', QUEUE];
    const start = performance.now();
    // bin/queue.js itself, as a process manager runs it (its shebang's flags apply).
    const children = files.map((file) => startQueue(label, args, childEnv({ ...setup.env, BENCH_RECORD_FILE: file })));
    await Promise.all(children.map((child) => child.exited));
    const ms = elapsedSince(start);
    const logs = summarizeLogs(children);
    if (logs.length) progress(`${label}: the workers logged:\n  ${logs.join('\n  ')}`);
    try {
      for (const child of children) await expectExit0(label, child);
      verifyExactlyOnce(label, pushed, readRecords(files));
      return { ms, logs, left: await leftAfterRun(ours, label) };
    } catch (error) {
      if (error instanceof BenchFailure && logs.length) error.message += `\nthe workers logged:\n  ${logs.join('\n  ')}`;
      throw error;
    }
  });
}
