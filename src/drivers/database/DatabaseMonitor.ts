/**
 * Workers' heartbeats and per-minute metrics on SQL (SPEC 15): a row per worker in the workers
 * table, a count per queue, minute and field in the metrics table (minute 0: the all-time totals).
 *
 * A beat is one transaction that locks its worker's row first: a beat whose seq was applied
 * already (sent again after a dropped connection) finds it there and changes nothing, and one that
 * is new stores what the worker said and adds its counts (sql/addMetrics.ts). Beats of different
 * workers share only metric rows, which they lock in one order. A beat with no counts (an idle
 * worker's) is one UPDATE of its row where the seq is below its own, and the transaction only when
 * that changed no row. All times are the dialect's clock.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { METRIC_KEEP_MS, type MetricBucket, type MonitorStore, type WorkerBeat, type WorkerInfo } from '../../contract/driver.ts';
import { minuteOf } from '../../contract/metrics.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import type { MetricsTable, TableNames, Tables, WorkersTable } from './schema.ts';
import { addMetrics } from './sql/addMetrics.ts';
import { oldestReady } from './sql/oldestReady.ts';

type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

/**
 * Housekeeping in one beat in this many of each worker (its first among them): the delete of
 * minutes older than a day, and of workers whose lease ran out (nobody lists those meanwhile). A
 * worker beats every few seconds, and the deletes have nothing to do most of the time.
 */
const PRUNE_EVERY_BEATS = 10;

export class DatabaseMonitor implements MonitorStore {
  /** Workers of this process whose row is known to exist: their beats lock it without making it first. */
  private readonly rowMade = new Set<string>();

  constructor(
    private readonly tables: TableNames,
    private readonly dialect: SqlDialect,
    private readonly call: Call,
  ) {}

  private get workersTable() {
    return this.tables.workers as 'queue_workers';
  }

  private get metricsTable() {
    return this.tables.metrics as 'queue_metrics';
  }

  /**
   * The beat in one transaction (see apply); then, now and then, each in a statement of its own,
   * the deletes of workers whose lease ran out and of minutes past keeping: kept out of the beat's
   * transaction, so that it locks nothing but its worker's row and its metric rows.
   */
  async beat(beat: WorkerBeat, leaseMs: number, metrics: MetricBucket[]): Promise<void> {
    await this.call('record a heartbeat', async (db) => {
      const applied = (metrics.length === 0 && (await this.applyAlone(db, beat, leaseMs))) || (await this.dialect.writeTransaction(db, (trx) => this.apply(trx, beat, leaseMs, metrics)));
      if (!applied || beat.seq % PRUNE_EVERY_BEATS !== 1) return;
      await this.dropGoneWorkers(db);
      await db.deleteFrom(this.metricsTable).where('minute', '>', 0).where('minute', '<', keptFrom(this.dialect.now())).execute();
    });
  }

  /**
   * Deletes the workers whose lease ran out, by id. A delete of the range of expires_at would lock,
   * on MySQL, the index entries it passes and the first one past it: those of live workers, whose
   * beats move them, and it deadlocked with those beats (45 times in 400 beats of 8 workers at
   * once). The ids come from a plain read, which locks nothing, and the delete checks the lease
   * again: a worker that beat in between stays.
   */
  private async dropGoneWorkers(db: Kysely<Tables>): Promise<void> {
    const gone = await db.selectFrom(this.workersTable).select('id').where('expires_at', '<=', this.dialect.now()).execute();
    if (gone.length === 0) return;
    await db.deleteFrom(this.workersTable).where('id', 'in', gone.map((row) => row.id)).where('expires_at', '<=', this.dialect.now()).execute();
  }

  /**
   * Inside the beat's write transaction: the worker's row, made if it has none yet, is locked and
   * its seq read. A beat not above it returns false. Otherwise the row takes what the worker said,
   * and each count is added to its minute (unless that minute is past keeping) and to the totals.
   * The row is made by the worker's first beat from this process, and again only if it went (its
   * lease ran out while the process was stopped, and another worker deleted it): the beats between
   * lock it straight away, a statement fewer.
   */
  private async apply(trx: Kysely<Tables>, beat: WorkerBeat, leaseMs: number, metrics: MetricBucket[]): Promise<boolean> {
    const now = this.dialect.now();
    let read = trx.selectFrom(this.workersTable).select(['seq', now.as('now_ms')]).where('id', '=', beat.id);
    // SQLite's write transaction holds the whole file's lock already.
    if (this.dialect.client !== 'sqlite') read = read.forUpdate();
    let row = this.rowMade.has(beat.id) ? await read.executeTakeFirst() : undefined;
    if (!row) {
      await this.ensureRow(trx, beat, now, leaseMs);
      row = await read.executeTakeFirstOrThrow();
      this.rowMade.add(beat.id);
    }
    if (Number(row.seq) >= beat.seq) return false;
    await trx.updateTable(this.workersTable).set(workerRow(beat, now, leaseMs)).where('id', '=', beat.id).execute();
    await addMetrics(trx, this.tables.metrics, this.dialect, metricRows(metrics, Number(row.now_ms) - METRIC_KEEP_MS));
    return true;
  }

  /**
   * A beat with no counts, in one statement (four on MySQL in the transaction: begin, the locking
   * read, the update, commit; an idle MariaDB worker sent them every 3 s). False when it changed no
   * row: the row is not there yet (or went), or this seq was applied already; apply() then tells.
   */
  private async applyAlone(db: Kysely<Tables>, beat: WorkerBeat, leaseMs: number): Promise<boolean> {
    if (!this.rowMade.has(beat.id)) return false;
    const { numUpdatedRows } = await db.updateTable(this.workersTable).set(workerRow(beat, this.dialect.now(), leaseMs)).where('id', '=', beat.id).where('seq', '<', beat.seq).executeTakeFirst();
    return numUpdatedRows > 0n;
  }

  /**
   * The worker's row, inserted with seq -1 (no beat applied) if it has none, so the read after it
   * always has a row to lock: locking a row that is not there locks a gap on MySQL, where the
   * first beats of two new workers would then deadlock on each other's insert.
   */
  private async ensureRow(trx: Kysely<Tables>, beat: WorkerBeat, now: RawBuilder<number>, leaseMs: number): Promise<void> {
    const insert = trx.insertInto(this.workersTable).values({ ...workerRow(beat, now, leaseMs), seq: -1 });
    await (this.dialect.client === 'mysql' ? insert.onDuplicateKeyUpdate({ id: sql`id` }) : insert.onConflict((oc) => oc.column('id').doNothing())).execute();
  }

  async leave(id: string): Promise<void> {
    this.rowMade.delete(id);
    await this.call('take a worker off the list', (db) => db.deleteFrom(this.workersTable).where('id', '=', id).execute());
  }

  async workers(): Promise<WorkerInfo[]> {
    const rows = await this.call('list workers', (db) => db.selectFrom(this.workersTable).selectAll().where('expires_at', '>', this.dialect.now()).execute());
    return rows.map(workerInfo).sort((a, b) => compare(a.name, b.name) || compare(a.id, b.id));
  }

  async metrics({ since, queue }: { since: number; queue?: string }): Promise<MetricBucket[]> {
    const rows = await this.call('read metrics', (db) => {
      let query = db.selectFrom(this.metricsTable).selectAll().where('minute', '>=', minuteOf(since)).where('minute', '>=', keptFrom(this.dialect.now()));
      if (queue !== undefined) query = query.where('queue', '=', queue);
      return query.execute();
    });
    return bucketsOf(rows);
  }

  oldestReady(queue: string): Promise<number | null> {
    return this.call('read the oldest ready job', (db) => oldestReady(db, this.tables.jobs, queue, this.dialect.now()));
  }

  async totals({ queue }: { queue?: string } = {}): Promise<MetricBucket[]> {
    const rows = await this.call('read metric totals', (db) => {
      let query = db.selectFrom(this.metricsTable).selectAll().where('minute', '=', 0);
      if (queue !== undefined) query = query.where('queue', '=', queue);
      return query.execute();
    });
    return bucketsOf(rows);
  }
}

/** The first minute still kept at `now`: an older one is in the totals only. */
function keptFrom(now: RawBuilder<number>): RawBuilder<number> {
  return sql<number>`${now} - ${METRIC_KEEP_MS}`;
}

/** The worker's row as `beat` has it, listed until `leaseMs` after `now`. */
function workerRow(beat: WorkerBeat, now: RawBuilder<number>, leaseMs: number) {
  return {
    id: beat.id,
    name: beat.name,
    host: beat.host,
    pid: beat.pid,
    queues: JSON.stringify(beat.queues),
    concurrency: beat.concurrency,
    running: JSON.stringify(beat.running),
    started_at: beat.startedAt,
    jobs_done: beat.jobsDone,
    rss_bytes: beat.rssBytes,
    seq: beat.seq,
    beat_at: now,
    expires_at: sql<number>`${now} + ${Math.round(leaseMs)}`,
  };
}

/** Drivers return BIGINT as strings (pg) or numbers: a row as the contract has it. */
function workerInfo(row: WorkersTable): WorkerInfo {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    pid: Number(row.pid),
    queues: JSON.parse(row.queues) as string[],
    concurrency: Number(row.concurrency),
    running: JSON.parse(row.running) as string[],
    startedAt: Number(row.started_at),
    jobsDone: Number(row.jobs_done),
    rssBytes: Number(row.rss_bytes),
    seq: Number(row.seq),
    beatAt: Number(row.beat_at),
    expiresAt: Number(row.expires_at),
  };
}

/** What a beat adds: each count to its minute's row, unless before `keptFrom`, and to its queue's totals (minute 0). */
function metricRows(buckets: MetricBucket[], keptFrom: number): MetricsTable[] {
  return buckets.flatMap(({ queue, minute, counts }) =>
    Object.entries(counts).flatMap(([field, value]) => [
      ...(minute >= keptFrom ? [{ queue, minute, field, value }] : []),
      { queue, minute: 0, field, value },
    ]));
}

/** Rows of the metrics table as buckets, by minute then queue. */
function bucketsOf(rows: MetricsTable[]): MetricBucket[] {
  const byKey = new Map<string, MetricBucket>();
  for (const row of rows) {
    const minute = Number(row.minute);
    const key = `${minute}\0${row.queue}`;
    let bucket = byKey.get(key);
    if (!bucket) byKey.set(key, (bucket = { queue: row.queue, minute, counts: {} }));
    bucket.counts[row.field] = Number(row.value);
  }
  return [...byKey.values()].sort((a, b) => a.minute - b.minute || compare(a.queue, b.queue));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
