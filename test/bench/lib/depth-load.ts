/**
 * Loading a deep queue for the depth figure (SPEC 17): `waiting` jobs on the bench queue plus
 * `records` completed records kept, stored exactly as our own push and finish store them.
 *
 * SQL: a real push and a real worker first make one waiting row and one completed row (the
 * templates); every other row is copied from them by INSERT ... SELECT over a series of numbers
 * (generate_series on PostgreSQL, MariaDB's seq_1_to_n table, a recursive CTE on SQLite), 100,000
 * rows a statement: 2M rows through the driver's push would take minutes on the servers. Each copy
 * keeps every column of its template but the row id, the job id (a version 7 UUID like jobId()
 * makes: the template's time, then a counter) and the envelope in `payload`, which is the template's
 * with that id and its own `i`. The templates are deleted afterwards.
 *
 * Redis: the driver itself. The records are jobs pushed and then run through turn.lua (taken 1,000
 * at a time and acked with a kept record, as a worker's turn does: only no job code runs), so each
 * one is what a worker leaves; then the waiting jobs are pushed (push.lua, several bulks of 1,000
 * in flight at once).
 *
 * Both check the result with the driver's own stats() and records before any drain is timed.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DatabaseConnectionConfig } from '../../../src/config/define.ts';
import type { Driver, Holding, Keeping, QueueStats } from '../../../src/contract/driver.ts';
import { mysqlDialect } from '../../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../../src/drivers/database/dialects/postgres.ts';
import { sqliteDialect } from '../../../src/drivers/database/dialects/sqlite.ts';
import type { Tables } from '../../../src/drivers/database/schema.ts';
import type { WorkerOptions } from '../../../src/worker/Worker.ts';
import { setRunHook } from '../project/sink.ts';
import { BenchFailure, QUEUE, progress } from './common.ts';
import { newWorker, runWorker, workerOptions, type Ours } from './ours.ts';

export interface Depth {
  waiting: number;
  records: number;
}

/** Loaded depth: what was stored, and how to tell a stored waiting job's id. */
export interface Loaded {
  /** Whether `id` is one of the waiting jobs loaded. */
  isWaiting(id: string): boolean;
  /** The driver's counts of the bench queue once loaded. */
  stats: QueueStats;
}

/** The Noop `i` of the template jobs: a number no loaded job has, to find in the envelope. */
const TEMPLATE_I = 987_654_321;
const ROWS_PER_STATEMENT = 100_000;
/** Redis: jobs per push and per turn, and bulks in flight at once. */
const BULK = 1_000;
const IN_FLIGHT = 8;

// ---- ids ----

/**
 * A loaded row's job id: the template id's 48-bit time, version 7, then `c` (records) or `d`
 * (waiting) and the row's number. Unique, in storage order, 36 characters, as jobId() makes them.
 */
function idOf(stamp: string, kind: 'record' | 'waiting', n: number): string {
  return `${stamp}-7${kind === 'record' ? 'c' : 'd'}00-8000-${String(n).padStart(12, '0')}`;
}

const LOADED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7([cd])00-8000-(\d{12})$/;

// ---- SQL ----

/** What differs between the three databases in the INSERT ... SELECT. */
interface Generator {
  /** The statement that inserts `select` over n in [from, to]. */
  insert(into: RawBuilder<unknown>, select: RawBuilder<unknown>, from: number, to: number): RawBuilder<unknown>;
  concat(parts: RawBuilder<unknown>[]): RawBuilder<unknown>;
  /** n as 12 digits, zero-padded. */
  pad12: RawBuilder<unknown>;
  /** n as text. */
  text: RawBuilder<unknown>;
  /** Done after loading: what the server's background statistics would have done by now. */
  settle(db: Kysely<Tables>, table: string): Promise<string>;
}

const pipes = (parts: RawBuilder<unknown>[]) => sql`(${sql.join(parts, sql` || `)})`;

const GENERATORS: Record<DatabaseConnectionConfig['client'], Generator> = {
  postgres: {
    insert: (into, select, from, to) => sql`insert into ${into} ${select} from generate_series(${sql.lit(from)}::bigint, ${sql.lit(to)}::bigint) as s(n)`,
    concat: pipes,
    pad12: sql`lpad(n::text, 12, '0')`,
    text: sql`n::text`,
    async settle(db, table) {
      await sql`vacuum analyze ${sql.table(table)}`.execute(db);
      await sql`checkpoint`.execute(db);
      return 'VACUUM ANALYZE (what autovacuum does after a bulk insert) and CHECKPOINT (so the load\'s own checkpoint does not fall in a drain)';
    },
  },
  mysql: {
    insert: (into, select, from, to) => sql`insert into ${into} ${select} from (select seq as n from ${sql.raw(`seq_${from}_to_${to}`)}) s`,
    concat: (parts) => sql`concat(${sql.join(parts)})`,
    pad12: sql`lpad(n, 12, '0')`,
    text: sql`cast(n as char)`,
    async settle(db, table) {
      await sql`analyze table ${sql.table(table)}`.execute(db);
      return 'ANALYZE TABLE (what InnoDB\'s automatic statistics do after a bulk insert)';
    },
  },
  sqlite: {
    insert: (into, select, from, to) => sql`with recursive s(n) as (select ${sql.lit(from)} union all select n + 1 from s where n < ${sql.lit(to)}) insert into ${into} ${select} from s`,
    concat: pipes,
    pad12: sql`substr('000000000000' || n, -12, 12)`,
    text: sql`cast(n as text)`,
    async settle(db) {
      await sql`pragma wal_checkpoint(truncate)`.execute(db);
      return 'a WAL checkpoint (the load\'s WAL copied into the file, as its connections would do by and by; no ANALYZE: SQLite gathers no statistics by itself)';
    },
  },
};

/** Columns that hold text: their template values stay strings (pg returns BIGINTs as strings too). */
const TEXT_COLUMNS = new Set(['job_id', 'queue', 'payload', 'reserved_by', 'progress', 'state', 'result', 'unique_key']);

function connectTo(config: DatabaseConnectionConfig): Kysely<Tables> {
  if (config.client === 'sqlite') return sqliteDialect(config.filename).connect();
  return (config.client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {})).connect();
}

/**
 * Fills the (fresh, migrated, empty) tables of `config` with `depth`, through `ours` (its driver
 * on the same tables) for the templates. `keep` is the retention the templates' worker keeps.
 */
export async function loadSql(ours: Ours, config: DatabaseConnectionConfig, depth: Depth, keep: WorkerOptions['keep']): Promise<Loaded> {
  const started = performance.now();
  const table = config.table!;
  const completedId = await pushTemplate(ours);
  const ran: string[] = [];
  setRunHook((id) => ran.push(id));
  try {
    const reason = await runWorker(await newWorker(ours, workerOptions(1, { keep, maxJobs: 1 })));
    if (reason.code !== 'max-jobs' || ran.join() !== completedId) throw new BenchFailure(`depth: the template job's worker stopped with '${reason.code}' (${reason.message}) after running ${ran.join(', ') || 'nothing'}`);
  } finally {
    setRunHook(undefined);
  }
  const waitingId = await pushTemplate(ours);
  const db = connectTo(config);
  try {
    const rows = await db.selectFrom(table as 'queue_jobs').selectAll().where('job_id', 'in', [completedId, waitingId]).execute();
    const byId = new Map(rows.map((row) => [row.job_id, row as unknown as Record<string, unknown>]));
    const completed = byId.get(completedId);
    const waiting = byId.get(waitingId);
    if (completed?.state !== 'completed' || !waiting || waiting.state !== null) throw new BenchFailure(`depth: the template rows are not one completed record and one waiting job: ${JSON.stringify(rows)}`);
    const stamp = waitingId.slice(0, 13);
    const generator = GENERATORS[config.client];
    await copyRows(db, table, generator, completed, { stamp, kind: 'record', count: depth.records });
    await copyRows(db, table, generator, waiting, { stamp, kind: 'waiting', count: depth.waiting });
    await db.deleteFrom(table as 'queue_jobs').where('job_id', 'in', [completedId, waitingId]).execute();
    const settled = await generator.settle(db, table);
    progress(`depth ${config.client}: loaded ${depth.waiting.toLocaleString('en-US')} waiting + ${depth.records.toLocaleString('en-US')} completed rows in ${Math.round(performance.now() - started)} ms; then ${settled}`);
  } finally {
    await db.destroy();
  }
  const stats = await expectDepth(ours, config.client, depth);
  const isWaiting = (id: string) => {
    const match = LOADED_ID.exec(id);
    return match !== null && match[1] === 'd' && id.startsWith(waitingId.slice(0, 13)) && Number(match[2]) >= 1 && Number(match[2]) <= depth.waiting;
  };
  return { isWaiting, stats };
}

/** Pushes a template Noop (`i` = TEMPLATE_I) with the manager, as any dispatch does; returns its id. */
async function pushTemplate(ours: Ours): Promise<string> {
  const [pushed] = await ours.manager.push([ours.job(TEMPLATE_I)]);
  return pushed!.id;
}

/**
 * Inserts `count` copies of `template` (a row read back with every column), numbered 1..count:
 * each its own job id, and the template's envelope with that id and `i` = its number.
 */
async function copyRows(db: Kysely<Tables>, table: string, generator: Generator, template: Record<string, unknown>, rows: { stamp: string; kind: 'record' | 'waiting'; count: number }): Promise<void> {
  const payload = String(template.payload);
  const id = String(template.job_id);
  const [beforeId, afterId] = splitOnce(payload, `"id":"${id}"`, 'its id');
  const [beforeI, afterI] = splitOnce(afterId, `"i":${TEMPLATE_I}`, 'its i');
  const jobId = generator.concat([sql.lit(`${rows.stamp}-7${rows.kind === 'record' ? 'c' : 'd'}00-8000-`), generator.pad12]);
  const envelope = generator.concat([sql.lit(`${beforeId}"id":"`), jobId, sql.lit(`"${beforeI}"i":`), generator.text, sql.lit(afterI)]);
  const columns = Object.keys(template).filter((column) => column !== 'id');
  const values = columns.map((column) => {
    if (column === 'job_id') return jobId;
    if (column === 'payload') return envelope;
    return literal(column, template[column]);
  });
  const into = sql`${sql.table(table)} (${sql.join(columns.map((column) => sql.ref(column)))})`;
  const select = sql`select ${sql.join(values)}`;
  for (let from = 1; from <= rows.count; from += ROWS_PER_STATEMENT) {
    const to = Math.min(rows.count, from + ROWS_PER_STATEMENT - 1);
    await generator.insert(into, select, from, to).execute(db);
  }
  // The first copy must be exactly what the template is, but for its id and `i`.
  const first = idOf(rows.stamp, rows.kind, 1);
  const copy = await db.selectFrom(table as 'queue_jobs').select('payload').where('job_id', '=', first).executeTakeFirst();
  const expected = payload.replace(`"id":"${id}"`, `"id":"${first}"`).replace(`"i":${TEMPLATE_I}`, '"i":1');
  if (copy?.payload !== expected) throw new BenchFailure(`depth: the copied envelope ${copy?.payload} is not the template's ${expected}`);
}

/** A template value as an SQL literal of its column's type. */
function literal(column: string, value: unknown): RawBuilder<unknown> {
  if (value === null || value === undefined) return sql`null`;
  if (typeof value === 'number') return sql.lit(value);
  if (typeof value === 'string' && !TEXT_COLUMNS.has(column) && /^-?\d+$/.test(value)) return sql.lit(Number(value));
  if (typeof value === 'string') return sql.lit(value);
  throw new BenchFailure(`depth: column ${column} of the template holds ${typeof value}, which the copy does not know how to write`);
}

/** [before, after] of the one occurrence of `part` in `text`. */
function splitOnce(text: string, part: string, what: string): [string, string] {
  const at = text.indexOf(part);
  if (at < 0 || text.indexOf(part, at + 1) >= 0) throw new BenchFailure(`depth: the template envelope does not hold ${what} exactly once: ${text}`);
  if (text.includes('\\')) throw new BenchFailure(`depth: the template envelope holds a backslash, which the copy does not escape: ${text}`);
  return [text.slice(0, at), text.slice(at + part.length)];
}

// ---- Redis ----

/**
 * Fills the (empty) Redis prefix of `ours` with `depth`: the records first (pushed, then run
 * through turn.lua with `keeping`), then the waiting jobs.
 */
export async function loadRedis(ours: Ours, depth: Depth, keeping: Keeping): Promise<Loaded> {
  const started = performance.now();
  const driver = ours.driver as Driver & Partial<Holding>;
  if (typeof driver.turn !== 'function') throw new BenchFailure('depth redis: the driver has no turn()');
  await pushMany(ours, depth.records);
  const pushedAt = performance.now();
  const lease = { defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };
  let finished = 0;
  // Like IN_FLIGHT workers, each a chain of turns: its last take's acks with the next take.
  const chain = async () => {
    let held = await driver.reserve([QUEUE], { count: BULK, ...lease });
    while (held.length > 0) {
      const acks = held.map((reservation) => ({ reservation, completion: { result: null, ...keeping } }));
      const turn = await driver.turn!({ acks, starts: [], giveBacks: [], queues: [QUEUE], options: { count: BULK, holdMs: 0, ...lease } }).result;
      if (turn.acked.some((acked) => !acked)) throw new BenchFailure('depth redis: a kept ack of a loaded record was refused');
      finished += acks.length;
      held = turn.held;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, chain));
  if (finished !== depth.records) throw new BenchFailure(`depth redis: ${finished} records made, ${depth.records} meant`);
  const finishedAt = performance.now();
  const waiting = new Set(await pushMany(ours, depth.waiting));
  const at = (from: number, to: number) => `${Math.round(to - from)} ms`;
  progress(`depth redis: loaded ${depth.waiting.toLocaleString('en-US')} waiting + ${depth.records.toLocaleString('en-US')} completed in ${at(started, performance.now())} (records pushed in ${at(started, pushedAt)}, run through in ${at(pushedAt, finishedAt)}; waiting pushed in ${at(finishedAt, performance.now())})`);
  return { isWaiting: (id) => waiting.has(id), stats: await expectDepth(ours, 'redis', depth) };
}

/** Pushes n Noops (i = 0..n-1) in bulks of BULK, IN_FLIGHT bulks at a time; returns their ids. */
async function pushMany(ours: Ours, n: number): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  const pusher = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + BULK);
      const jobs = Array.from({ length: next - from }, (_, k) => ours.job(from + k));
      (await ours.manager.push(jobs)).forEach((pushed, k) => (ids[from + k] = pushed.id));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, pusher));
  return ids;
}

// ---- checks ----

/** The bench queue's stats, or all zeros when it has none. */
export async function benchStats(driver: Driver): Promise<QueueStats> {
  const stats = (await driver.stats()).find((s) => s.queue === QUEUE);
  return stats ?? { queue: QUEUE, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 };
}

/** Fails unless the driver counts exactly the loaded depth, and its records read back as they should. */
async function expectDepth(ours: Ours, backend: string, depth: Depth): Promise<QueueStats> {
  const stats = await benchStats(ours.driver);
  const expected = { ready: depth.waiting, delayed: 0, reserved: 0, failed: 0, completed: depth.records, cancelled: 0 };
  const wrong = Object.entries(expected).filter(([state, n]) => stats[state as keyof typeof expected] !== n);
  if (wrong.length) throw new BenchFailure(`depth ${backend}: after loading, the driver counts ${JSON.stringify(stats)}; expected ${JSON.stringify(expected)}`);
  const { records } = await ours.driver.records.list({ state: 'completed', queue: QUEUE, limit: 2 });
  const { records: ready } = await ours.driver.records.list({ state: 'ready', queue: QUEUE, limit: 2 });
  for (const record of [...records, ...ready]) {
    const envelope = JSON.parse(record.payload) as { id?: string; job?: string; data?: { i?: unknown } };
    if (envelope.id !== record.id || envelope.job !== 'Noop' || typeof envelope.data?.i !== 'number' || record.attempts !== (record.state === 'completed' ? 1 : 0)) {
      throw new BenchFailure(`depth ${backend}: a loaded ${record.state} record does not read back as a Noop's: ${JSON.stringify(record)}`);
    }
  }
  if (records.length < Math.min(2, depth.records) || ready.length < Math.min(2, depth.waiting)) throw new BenchFailure(`depth ${backend}: the records list shows ${records.length} completed and ${ready.length} ready`);
  return stats;
}
