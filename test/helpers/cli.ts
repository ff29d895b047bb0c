/**
 * Runs the real `queue` binary in the fixture project, as a user (or supervisor) would, on any of
 * the backends: each test gets its own SQLite file, and on Redis its own key prefix.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionConfig } from '../../src/config/define.ts';
import type { FailedJob } from '../../src/contract/driver.ts';
import { ensureBuilt } from './build.ts';
import { freePort } from './servers.ts';
import { tableNames } from '../../src/drivers/database/schema.ts';
import { deleteRedisPrefix, everyTable, MYSQL_URL, POSTGRES_URL, redisBackend, REDIS_URL, serverDatabaseBackend, serverDatabaseConfig, skipReason } from './backends.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixtureProject = path.join(repoRoot, 'test/fixtures/project');
const BIN = path.join(repoRoot, 'bin/queue.js');

export type BackendName = 'sqlite' | 'redis' | 'mariadb' | 'postgres';

const SERVER_DATABASES = { mariadb: { client: 'mysql', url: MYSQL_URL }, postgres: { client: 'postgres', url: POSTGRES_URL } } as const;

/** Tables made by testEnv(_, 'mariadb' | 'postgres') and not dropped yet. */
const serverTables = new Map<string, 'mysql' | 'postgres'>();

export interface TestEnv {
  dir: string;
  env: Record<string, string>;
  recordFile: string;
}

/** Prefixes handed out by testEnv(_, 'redis') and not deleted yet. */
const redisPrefixes = new Set<string>();

/**
 * A fresh database file and record file for one test. With a backend, the default connection is
 * that backend; on Redis with a key prefix of its own (`e2e-<uuid>`). DB_DATABASE is always set:
 * the fixture config reads it whichever connection is the default.
 */
export function testEnv(extra: Record<string, string> = {}, backend?: BackendName): TestEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-e2e-'));
  const recordFile = path.join(dir, 'record.log');
  const env: Record<string, string> = { DB_DATABASE: path.join(dir, 'queue.sqlite'), RECORD_FILE: recordFile, QUEUE_LOG_FORMAT: 'json' };
  if (backend === 'sqlite') env.QUEUE_CONNECTION = 'database';
  if (backend === 'redis') {
    const prefix = `e2e-${randomUUID()}`;
    redisPrefixes.add(prefix);
    Object.assign(env, { QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix });
  }
  if (backend === 'mariadb' || backend === 'postgres') {
    const { client, url } = SERVER_DATABASES[backend];
    const table = `e2e_${randomUUID().slice(0, 8)}`;
    serverTables.set(table, client);
    Object.assign(env, { QUEUE_CONNECTION: 'database', DB_CONNECTION: client, DATABASE_URL: url, DB_QUEUE_TABLE: `${table}_jobs`, DB_FAILED_TABLE: `${table}_failed` });
    // Server databases are not migrated on first use: do what a user does. A test that breaks the
    // configuration on purpose sees its error from the command it runs, not from here.
    try {
      ensureBuilt();
      execFileSync(process.execPath, [BIN, 'migrate'], { cwd: fixtureProject, env: { ...process.env, ...env, ...extra }, stdio: 'ignore' });
    } catch {
      // Asserted by the test itself.
    }
  }
  return { dir, recordFile, env: { ...env, ...extra } };
}

/** One backend the end-to-end suites run against: `for (const backend of await e2eBackends()) describe(...)`. */
export interface E2EBackend {
  name: BackendName;
  /** The connection the CLI uses on this backend, as `status --json` names it. */
  connection: 'database' | 'redis';
  /** Why this backend is skipped here; undefined when it runs. */
  skip: string | undefined;
  /** testEnv() on this backend. */
  env(extra?: Record<string, string>): TestEnv;
  /**
   * An environment whose storage cannot be opened, and what the one-line error must say: on SQLite
   * a database path that is a directory, on Redis a port where nothing listens.
   */
  unreachable(): { t: TestEnv; where: RegExp };
  /** Deletes what the suite's tests stored on a server (their Redis prefixes); register with after(). */
  cleanup(): Promise<void>;
}

/**
 * A loopback port nothing listens on, for every backend's "server down" cases: one the system just
 * handed out and took back. (A fixed one can be taken: the profiling tools' own Redis runs on 6390,
 * their PostgreSQL on 5433, docs/performance.md.)
 */
export const UNREACHABLE_PORT = await freePort();
export const UNREACHABLE_ADDRESS = `127.0.0.1:${UNREACHABLE_PORT}`;

/**
 * Every backend, each with its skip reason. Locally an unreachable backend is skipped with a
 * printed line; under CI (CI=true) this throws, which fails the test file.
 */
export async function e2eBackends(): Promise<E2EBackend[]> {
  const cleanup = async () => {
    const prefixes = [...redisPrefixes];
    redisPrefixes.clear();
    for (const prefix of prefixes) await deleteRedisPrefix(prefix);
  };
  return [
    {
      name: 'sqlite',
      connection: 'database',
      skip: undefined,
      env: (extra) => testEnv(extra, 'sqlite'),
      unreachable() {
        const t = testEnv({}, 'sqlite');
        t.env.DB_DATABASE = t.dir;
        return { t, where: new RegExp(`cannot open SQLite database ${escapeRegExp(t.dir)}: unable to open database file`) };
      },
      cleanup: async () => {},
    },
    {
      name: 'redis',
      connection: 'redis',
      skip: await skipReason(redisBackend()),
      env: (extra) => testEnv(extra, 'redis'),
      unreachable: () => ({ t: testEnv({ REDIS_URL: `redis://${UNREACHABLE_ADDRESS}/0` }, 'redis'), where: new RegExp(`Redis connection 'redis' \\(${escapeRegExp(UNREACHABLE_ADDRESS)}\\): connect ECONNREFUSED`) }),
      cleanup,
    },
    ...(await Promise.all((['mariadb', 'postgres'] as const).map(async (name): Promise<E2EBackend> => {
      const { client } = SERVER_DATABASES[name];
      const skip = await skipReason(serverDatabaseBackend(client));
      return {
        name,
        connection: 'database',
        skip,
        env: (extra) => testEnv(extra, name),
        unreachable: () => ({
          t: testEnv({ DB_CONNECTION: client, DATABASE_URL: `${client}://${client === 'mysql' ? 'root' : 'postgres'}@${UNREACHABLE_ADDRESS}/test` }),
          where: new RegExp(`${client} connection 'database' \\(${escapeRegExp(UNREACHABLE_ADDRESS)}\\): .*ECONNREFUSED`),
        }),
        cleanup: () => dropServerTables(client),
      };
    }))),
  ];
}

/** Drops the tables testEnv() made on one server database. */
async function dropServerTables(client: 'mysql' | 'postgres'): Promise<void> {
  const tables = [...serverTables].filter(([, c]) => c === client).map(([table]) => table);
  if (tables.length === 0) return;
  const { mysqlDialect } = await import('../../src/drivers/database/dialects/mysql.ts');
  const { postgresDialect } = await import('../../src/drivers/database/dialects/postgres.ts');
  const config = serverDatabaseConfig(client);
  const db = (client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {})).connect();
  try {
    for (const table of tables) {
      serverTables.delete(table);
      for (const name of everyTable(tableNames({ table: `${table}_jobs`, failedTable: `${table}_failed` }))) {
        await db.schema.dropTable(name).ifExists().execute();
      }
    }
  } finally {
    await db.destroy();
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function records(t: TestEnv): string[] {
  return existsSync(t.recordFile) ? readFileSync(t.recordFile, 'utf8').split('\n').filter(Boolean) : [];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves when stdout+stderr contain `text` (rejects after `ms`). */
  waitFor: (text: string | RegExp, ms?: number) => Promise<void>;
  done: Promise<RunResult>;
}

/**
 * Processes start() made that are still running. A test that fails half-way leaves none behind:
 * they are killed once the file's tests are over (else the test process would wait for them).
 */
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

export function start(args: string[], t: TestEnv, options: { cwd?: string; direct?: boolean; launcher?: string[]; input?: string } = {}): Running {
  // direct: run bin/queue.js itself, so its first lines (and the flags they give node) apply, as under
  // a process manager. launcher: run it with that command instead (`['busybox', 'sh']`).
  ensureBuilt();
  const [command, ...argv] = options.launcher ? [...options.launcher, BIN, ...args] : options.direct ? [BIN, ...args] : [process.execPath, BIN, ...args];
  const child = spawn(command!, argv, {
    cwd: options.cwd ?? fixtureProject,
    env: { ...process.env, ...t.env, CI: process.env.CI ?? '' },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  const waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  const check = () => {
    const all = stdout + stderr;
    for (const waiter of [...waiters]) {
      if (waiter.test(all)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.on('data', (chunk) => { stdout += chunk; check(); });
  child.stderr!.on('data', (chunk) => { stderr += chunk; check(); });
  children.add(child);
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => {
    children.delete(child);
    resolve({ code, signal, stdout, stderr });
  }));
  return {
    child,
    output: () => stdout + stderr,
    done,
    waitFor(text, ms = 15_000) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(stdout + stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}; output so far:\n${stdout}${stderr}`)), ms);
        waiters.push({ test, resolve: () => { clearTimeout(timer); resolve(); } });
        done.then(() => {
          clearTimeout(timer);
          if (!test(stdout + stderr)) reject(new Error(`process ended before printing ${text}; output:\n${stdout}${stderr}`));
        });
      });
    },
  };
}

export function run(args: string[], t: TestEnv, options: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const running = start(args, t, options);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return running.done.finally(() => clearTimeout(timer));
}

/** run(), and the command must exit 0 (its stderr is the assertion message otherwise). */
export async function runOk(args: string[], t: TestEnv, options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const result = await run(args, t, options);
  assert.equal(result.code, 0, `queue ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr}`);
  return result;
}

/**
 * A QueueManager on the test's storage, for dispatching from the test process itself: the same
 * default connection, SQLite file and Redis target and prefix the CLI gets from the fixture config.
 */
export async function managerFor(t: TestEnv): Promise<import('../../src/queue/manager.ts').QueueManager> {
  const { QueueManager } = await import('../../src/queue/manager.ts');
  const { defineConfig } = await import('../../src/config/define.ts');
  const env = { ...process.env, ...t.env };
  const cluster = env.REDIS_CLUSTER_NODES?.split(',').map((node) => node.trim());
  const tables = { table: env.DB_QUEUE_TABLE || undefined, failedTable: env.DB_FAILED_TABLE || undefined };
  const client = env.DB_CONNECTION === 'mysql' || env.DB_CONNECTION === 'postgres' ? env.DB_CONNECTION : undefined;
  const connections: Record<string, ConnectionConfig> = {
    database: client ? { driver: 'database', client, url: env.DATABASE_URL!, ...tables } : { driver: 'database', client: 'sqlite', filename: t.env.DB_DATABASE!, ...tables },
    redis: { driver: 'redis', url: env.REDIS_URL || undefined, cluster, prefix: env.REDIS_PREFIX || 'queue' },
  };
  const security = {
    appKey: env.APP_KEY || undefined,
    signed: env.QUEUE_SIGNED === 'true',
    maxPayloadBytes: env.QUEUE_MAX_PAYLOAD_BYTES ? Number(env.QUEUE_MAX_PAYLOAD_BYTES) : undefined,
  };
  return new QueueManager(defineConfig({ default: env.QUEUE_CONNECTION || 'database', connections, leaseMargin: 1, ...security }), fixtureProject);
}

/** Dispatches `count` jobs of a fixture class in one bulk; returns their ids. */
export async function dispatchMany(t: TestEnv, jobFile: string, count: number, fields: Record<string, unknown> = {}): Promise<string[]> {
  const manager = await managerFor(t);
  try {
    const { default: JobClass } = await import(path.join(fixtureProject, 'app/jobs', jobFile));
    const jobs = Array.from({ length: count }, () => Object.assign(new JobClass(), fields));
    return (await manager.push(jobs)).map((pushed) => pushed.id);
  } finally {
    await manager.close();
  }
}

/** Parses the JSON log lines a worker printed. */
export function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

export interface QueueStatus {
  connection: string;
  backend: 'sqlite' | 'mysql' | 'postgres' | 'redis';
  queues: { queue: string; ready: number; delayed: number; reserved: number; failed: number; completed: number; cancelled: number; paused: boolean }[];
  paused: string[];
  restartRequestedAt: number | null;
  /** Live workers. */
  workers: number;
}

/** `queue status --json`, checked to have the one shape every backend prints. */
export async function status(t: TestEnv): Promise<QueueStatus> {
  const result = await run(['status', '--json'], t);
  assert.equal(result.code, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as QueueStatus;
  assert.deepEqual(Object.keys(parsed).sort(), ['backend', 'connection', 'paused', 'queues', 'restartRequestedAt', 'workers']);
  const kind = { sqlite: 'sqlite', mysql: 'mysql', postgres: 'postgres', redis: 'redis' }[t.env.QUEUE_CONNECTION === 'redis' ? 'redis' : (t.env.DB_CONNECTION ?? 'sqlite')];
  assert.equal(parsed.backend, kind, 'status names the backend it runs on');
  for (const queue of parsed.queues) assert.deepEqual(Object.keys(queue).sort(), ['cancelled', 'completed', 'delayed', 'failed', 'paused', 'queue', 'ready', 'reserved']);
  return parsed;
}

/** A failed job as `failed:list --json` prints it (failedAt as an ISO string). */
export type FailedRecord = Omit<FailedJob, 'failedAt'> & { failedAt: string };

/** `queue failed:list --json` (with more flags, e.g. --queue). */
export async function failedList(t: TestEnv, ...flags: string[]): Promise<FailedRecord[]> {
  const result = await run(['failed:list', '--json', ...flags], t);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** The first word of each record line (the job's id), in the order they were written. */
export function ranIds(t: TestEnv): string[] {
  return records(t).map((line) => line.split(' ')[0]!);
}

/** The reason the worker gave for stopping (from its JSON log). */
export function stopReasonOf(result: RunResult): unknown {
  return logLines(result.stdout).find((line) => line.reason)?.reason;
}

/** Dispatches one Slow job of `ms` and starts `queue work`; resolves once the job has started. */
export async function workerOnSlowJob(t: TestEnv, ms: number): Promise<{ id: string; worker: Running }> {
  const [id] = await dispatchMany(t, 'Slow.ts', 1, { ms });
  const worker = start(['work'], t);
  await worker.waitFor('"msg":"started"');
  return { id: id!, worker };
}

/** Waits until the record file satisfies `test` (a job wrote its line, not just its log). */
export async function untilRecords(t: TestEnv, test: (lines: string[]) => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!test(records(t))) {
    if (Date.now() > until) throw new Error(`gave up after ${ms} ms with ${records(t).length} record lines`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Tracked's lines ("start|end <id> <attempt> <pid>"), by job: the pids that started and ended each run. */
export function trackedRuns(t: TestEnv): { starts: Map<string, string[]>; ends: Map<string, string[]> } {
  const starts = new Map<string, string[]>();
  const ends = new Map<string, string[]>();
  for (const line of records(t)) {
    const [kind, id, , pid] = line.split(' ');
    const into = kind === 'start' ? starts : ends;
    into.set(id!, [...(into.get(id!) ?? []), pid!]);
  }
  return { starts, ends };
}
