/**
 * The driver contract in memory, for in-process tests of the worker loop, its job sources and the
 * running of one reservation: no server, every edge case at hand. A test helper, not a product
 * driver: it keeps the contract's rules (leases, tokens, tries counted at reservation, holds whose
 * try counts at their start, operations safe to apply twice) and adds what a test needs: a clock it
 * can read, calls it can make fail (`failNext`), and a record of every turn.
 */
import { randomUUID } from 'node:crypto';
import type { Completion, Driver, FailedJob, FailedStore, Failure, Holding, JobRecord, Keeping, MetricBucket, MonitorStore, Records, QueueStats, WorkerInfo, ScheduleStore, Reservation, ReserveOptions, Pushed, StoredJob, Turn, TurnResult, WorkerSignals } from '../../src/contract/driver.ts';
import { METRIC_KEEP_MS } from '../../src/contract/driver.ts';
import { failedJobRecord, waitingState } from '../../src/contract/records.ts';
import { cancelSignal, pausedSignal, RESTART_SIGNAL, workerSignals } from '../../src/contract/signals.ts';
import { failedJobNotFound } from '../../src/errors.ts';
import { encodeEnvelope, withFreshTries } from '../../src/jobs/envelope.ts';
import { timeoutMsOf } from '../../src/jobs/settings.ts';

interface Row {
  id: string;
  queue: string;
  payload: string;
  attempts: number;
  timeoutMs: number | null;
  /** When it may next be taken: after its delay, or when its lease (or hold) runs out. */
  availableAt: number;
  token: string | null;
  progress: string | null;
  /** Storage order; a give-back puts a row first again. */
  order: number;
}

export class MemoryDriver implements Driver {
  readonly connection = 'memory';
  readonly rows = new Map<string, Row>();
  readonly failedRecords = new Map<string, FailedJob>();
  /** Completed records, oldest first. */
  readonly completed = new Map<string, JobRecord & { expiresAt: number }>();
  readonly signalValues = new Map<string, number>();
  /** Every call that changes state, by name, for tests that count round trips. */
  readonly calls: string[] = [];
  private order = 0;
  private failures = 0;
  private failure = new Error('connection lost');

  /** The next `count` calls reject with `error` (as a dropped connection would), changing nothing. */
  failNext(count: number, error = new Error('cannot reach the backend: connection lost')): void {
    this.failures = count;
    this.failure = error;
  }

  protected async enter(call: string): Promise<void> {
    this.calls.push(call);
    await Promise.resolve();
    if (this.failures > 0) {
      this.failures -= 1;
      throw this.failure;
    }
  }

  /** Plain jobs only: this double of the worker's tests knows no priority, unique key or expiry. */
  async push(jobs: StoredJob[]): Promise<Pushed[]> {
    await this.enter('push');
    for (const job of jobs) {
      if (job.priority || job.unique || job.expireInMs !== undefined) throw new Error('the memory driver stores plain jobs only');
      if (this.rows.has(job.id)) continue;
      this.rows.set(job.id, { id: job.id, queue: job.queue, payload: job.payload, attempts: 0, timeoutMs: job.timeoutMs, availableAt: Date.now() + job.delayMs, token: null, progress: null, order: (this.order += 1) });
    }
    return jobs.map((job) => ({ id: job.id, duplicate: false }));
  }

  /** Rows of `queue` that may be taken now, in order. */
  private available(queue: string): Row[] {
    const now = Date.now();
    return [...this.rows.values()].filter((row) => row.queue === queue && row.availableAt <= now).sort((a, b) => a.order - b.order);
  }

  protected take(queues: string[], options: ReserveOptions, holdMs: number): Reservation[] {
    const token = randomUUID();
    for (const queue of queues) {
      const rows = this.available(queue).slice(0, options.count);
      if (rows.length === 0) continue;
      return rows.map((row) => {
        row.token = token;
        if (holdMs > 0) {
          row.availableAt = Date.now() + holdMs;
          return this.reservation(row, row.attempts + 1);
        }
        row.attempts += 1;
        row.availableAt = Date.now() + (row.timeoutMs ?? options.defaultTimeoutMs) + options.leaseMarginMs;
        return this.reservation(row, row.attempts);
      });
    }
    return [];
  }

  private reservation(row: Row, attempts: number): Reservation {
    return { handle: row.id, queue: row.queue, payload: row.payload, attempts, token: row.token!, leaseExpiresAt: row.availableAt };
  }

  /** The row, when `r` still holds its lease. */
  protected owned(r: Reservation): Row | undefined {
    const row = this.rows.get(r.handle);
    return row && row.token === r.token ? row : undefined;
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    await this.enter('reserve');
    return this.take(queues, options, 0);
  }

  async ack(r: Reservation, completion?: Completion): Promise<boolean> {
    await this.enter('ack');
    return this.ackNow(r, completion);
  }

  protected ackNow(r: Reservation, completion?: Completion): boolean {
    const row = this.rows.get(r.handle);
    if (!row) return true;
    if (!this.owned(r)) return false;
    this.rows.delete(r.handle);
    if (completion) {
      const now = Date.now();
      this.completed.delete(row.id);
      this.completed.set(row.id, { ...this.record(row), state: 'completed', result: completion.result, availableAt: null, finishedAt: now, expiresAt: now + completion.keepMs });
    }
    return true;
  }

  /** Records a taken row as cancelled. */
  private cancelNow(row: Row, keeping: Keeping): void {
    const now = Date.now();
    this.rows.delete(row.id);
    this.completed.set(row.id, { ...this.record(row), state: 'cancelled', availableAt: null, finishedAt: now, expiresAt: now + keeping.keepMs });
    this.signalValues.delete(cancelSignal(row.id));
  }

  async cancelRunning(r: Reservation, keeping: Keeping): Promise<boolean> {
    await this.enter('cancelRunning');
    const row = this.owned(r);
    if (!row) return !this.rows.has(r.handle);
    this.cancelNow(row, keeping);
    return true;
  }

  async progress(r: Reservation, progress: string): Promise<boolean> {
    await this.enter('progress');
    const row = this.owned(r);
    if (row) row.progress = progress;
    return row !== undefined;
  }

  private record(row: Row): JobRecord {
    return {
      id: row.id, queue: row.queue, connection: this.connection, state: waitingState(row.token !== null, row.availableAt, Date.now()), payload: row.payload,
      attempts: row.attempts, result: null, error: null, progress: row.progress, availableAt: row.availableAt, startedAt: null, finishedAt: null,
    };
  }

  readonly records: Records = {
    find: async (id) => {
      const row = this.rows.get(id);
      if (row) return this.record(row);
      const done = this.completed.get(id);
      if (done) return done;
      const failed = this.failedRecords.get(id);
      return failed && failedJobRecord(failed);
    },
    list: async ({ state, queue, limit = 50 }) => {
      const all = [...[...this.rows.values()].map((row) => this.record(row)), ...this.completed.values(), ...[...this.failedRecords.values()].map(failedJobRecord)];
      return { records: all.filter((r) => r.state === state && (queue === undefined || r.queue === queue)).reverse().slice(0, limit) };
    },
    cancel: async (id, keeping) => {
      const row = this.rows.get(id);
      if (!row) return this.completed.has(id) || this.failedRecords.has(id) ? 'finished' : 'unknown';
      if (row.token !== null && row.availableAt > Date.now()) {
        this.signalValues.set(cancelSignal(id), Date.now());
        return 'requested';
      }
      this.cancelNow(row, keeping);
      return 'cancelled';
    },
    clean: async ({ state, queue, olderThanMs = 0 }) => {
      const before = Date.now() - olderThanMs;
      let cleaned = 0;
      const store: Map<string, { queue: string; failedAt?: number; finishedAt?: number | null; state?: string }> = state === 'failed' ? this.failedRecords : this.completed;
      for (const [id, record] of [...store]) {
        const at = record.failedAt ?? record.finishedAt ?? 0;
        if ((state === 'failed' || record.state === state) && (queue === undefined || record.queue === queue) && at <= before) cleaned += Number(store.delete(id));
      }
      return cleaned;
    },
    prune: async ({ maxPerQueue }) => {
      const now = Date.now();
      let pruned = 0;
      const kept = new Map<string, number>();
      for (const record of [...this.completed.values()].reverse()) {
        const count = (kept.get(record.queue) ?? 0) + 1;
        kept.set(record.queue, count);
        if (record.expiresAt <= now || count > maxPerQueue) pruned += Number(this.completed.delete(record.id));
      }
      return pruned;
    },
  };

  async release(r: Reservation, delayMs: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    await this.enter('release');
    const row = this.owned(r);
    if (!row) return this.rows.get(r.handle)?.token === null;
    if (options.refundAttempt) row.attempts -= 1;
    row.token = null;
    row.availableAt = Date.now() + delayMs;
    return true;
  }

  async fail(r: Reservation, failure: Failure): Promise<boolean> {
    await this.enter('fail');
    const id = failure.id ?? randomUUID();
    if (!this.owned(r)) return !this.rows.has(r.handle) && this.failedRecords.get(id)?.error === failure.error;
    this.rows.delete(r.handle);
    this.failedRecords.set(this.failedRecords.has(id) ? randomUUID() : id, { id, connection: this.connection, queue: r.queue, job: failure.job, payload: failure.payload, error: failure.error, failedAt: Date.now() });
    return true;
  }

  async size(queue: string): Promise<number> {
    return [...this.rows.values()].filter((row) => row.queue === queue).length;
  }

  async stats(): Promise<QueueStats[]> {
    const now = Date.now();
    const byQueue = new Map<string, QueueStats>();
    const of = (queue: string) => byQueue.get(queue) ?? byQueue.set(queue, { queue, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 }).get(queue)!;
    for (const row of this.rows.values()) {
      const stats = of(row.queue);
      if (row.availableAt <= now) stats.ready += 1;
      else if (row.token) stats.reserved += 1;
      else stats.delayed += 1;
    }
    for (const record of this.failedRecords.values()) of(record.queue).failed += 1;
    for (const record of this.completed.values()) if (record.state === 'completed' || record.state === 'cancelled') of(record.queue)[record.state] += 1;
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }

  async clear(queue: string): Promise<number> {
    await this.enter('clear');
    const now = Date.now();
    let deleted = 0;
    for (const row of [...this.rows.values()]) {
      if (row.queue === queue && (row.token === null || row.availableAt <= now)) deleted += Number(this.rows.delete(row.id));
    }
    return deleted;
  }

  private readonly scheduleRows = new Map<string, { lastAt: number | null; firedAt: number | null; paused: boolean; definition: string | null }>();

  private scheduleRow(name: string) {
    let row = this.scheduleRows.get(name);
    if (!row) this.scheduleRows.set(name, (row = { lastAt: null, firedAt: null, paused: false, definition: null }));
    return row;
  }

  readonly schedules: ScheduleStore = {
    advance: async (cursor, at, job) => {
      const row = this.scheduleRow(cursor.name);
      if (row.lastAt !== null && row.lastAt >= at) return false;
      row.lastAt = at;
      if (job) {
        row.firedAt = Date.now();
        await this.push([job]);
      }
      return true;
    },
    states: async (cursors) => cursors.map(({ name }) => ({ name, lastAt: this.scheduleRows.get(name)?.lastAt ?? null, firedAt: this.scheduleRows.get(name)?.firedAt ?? null })),
    settings: async () => [...this.scheduleRows].filter(([, row]) => row.definition !== null || row.paused).map(([name, row]) => ({ name, definition: row.definition, paused: row.paused })),
    define: async (name, definition) => {
      this.scheduleRow(name).definition = definition;
    },
    undefine: async (name) => {
      const row = this.scheduleRows.get(name);
      if (!row?.definition) return false;
      row.definition = null;
      row.paused = false;
      return true;
    },
    pause: async (name, paused) => {
      this.scheduleRow(name).paused = paused;
    },
  };

  /** Beats by worker id, and metric counts by queue and minute (0: the totals). */
  readonly beats = new Map<string, WorkerInfo>();
  readonly metricCounts = new Map<string, MetricBucket>();

  readonly monitor: MonitorStore = {
    beat: async (beat, leaseMs, metrics) => {
      await this.enter('beat');
      const now = Date.now();
      if ((this.beats.get(beat.id)?.seq ?? 0) >= beat.seq) return;
      this.beats.set(beat.id, { ...beat, beatAt: now, expiresAt: now + leaseMs });
      for (const bucket of metrics) {
        for (const minute of bucket.minute >= now - METRIC_KEEP_MS ? [bucket.minute, 0] : [0]) {
          const key = `${bucket.queue}\n${minute}`;
          const kept = this.metricCounts.get(key) ?? this.metricCounts.set(key, { queue: bucket.queue, minute, counts: {} }).get(key)!;
          for (const [field, value] of Object.entries(bucket.counts)) kept.counts[field] = (kept.counts[field] ?? 0) + value;
        }
      }
    },
    leave: async (id) => {
      this.beats.delete(id);
    },
    workers: async () => [...this.beats.values()].filter((w) => w.expiresAt > Date.now()).sort((a, b) => a.name.localeCompare(b.name)),
    metrics: async ({ since, queue }) => [...this.metricCounts.values()]
      .filter((b) => b.minute !== 0 && b.minute >= since - (since % 60_000) && b.minute >= Date.now() - METRIC_KEEP_MS && (queue === undefined || b.queue === queue))
      .sort((a, b) => a.minute - b.minute || a.queue.localeCompare(b.queue)),
    totals: async ({ queue } = {}) => [...this.metricCounts.values()].filter((b) => b.minute === 0 && (queue === undefined || b.queue === queue)).sort((a, b) => a.queue.localeCompare(b.queue)),
    oldestReady: async (queue) => {
      const ready = [...this.rows.values()].filter((row) => row.queue === queue && row.availableAt <= Date.now());
      return ready.length === 0 ? null : Math.min(...ready.map((row) => row.availableAt));
    },
  };

  readonly failed: FailedStore = {
    list: async ({ queue, limit } = {}) => [...this.failedRecords.values()].filter((f) => queue === undefined || f.queue === queue).reverse().slice(0, limit),
    find: async (id) => this.failedRecords.get(id),
    forget: async (id) => this.failedRecords.delete(id),
    flush: async () => {
      const n = this.failedRecords.size;
      this.failedRecords.clear();
      return n;
    },
    retry: async (ids) => {
      const missing = ids.filter((id) => !this.failedRecords.has(id));
      if (missing.length > 0) throw failedJobNotFound(missing);
      for (const id of ids) {
        const record = this.failedRecords.get(id)!;
        const envelope = withFreshTries(record.payload, id);
        this.failedRecords.delete(id);
        this.rows.set(envelope.id, { id: envelope.id, queue: record.queue, payload: encodeEnvelope(envelope), attempts: 0, timeoutMs: timeoutMsOf(envelope), availableAt: Date.now(), token: null, progress: null, order: (this.order += 1) });
      }
      return ids;
    },
    retryAll: async ({ queue } = {}) => this.failed.retry([...this.failedRecords.values()].filter((f) => queue === undefined || f.queue === queue).map((f) => f.id)),
  };

  async signals(): Promise<WorkerSignals> {
    await this.enter('signals');
    return workerSignals(this.signalValues, Date.now());
  }

  async requestRestart(): Promise<void> {
    this.signalValues.set(RESTART_SIGNAL, Date.now());
  }

  async pause(queue: string): Promise<void> {
    this.signalValues.set(pausedSignal(queue), Date.now());
  }

  async resume(queue: string): Promise<void> {
    this.signalValues.delete(pausedSignal(queue));
  }

  async close(): Promise<void> {}
}

/** The same, with the Holding ability: turns, holds whose try counts at their start, give-backs. */
export class MemoryHoldingDriver extends MemoryDriver implements Holding {
  readonly turns: Turn[] = [];
  /** Whether a turn's bytes count as sent at once (Redis) or only once answered (SQL). */
  written = true;
  /** How long a turn takes to be answered, ms (a round trip). */
  roundTripMs = 0;

  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> } {
    this.turns.push(turn);
    const sent = this.roundTripMs > 0 ? new Promise((resolve) => setTimeout(resolve, this.roundTripMs)) : Promise.resolve();
    const result = sent.then(() => this.enter('turn')).then(() => {
      const acked = turn.acks.map((a) => this.ackNow(a.reservation, a.completion));
      const started = turn.starts.map((r) => {
        const row = this.owned(r);
        if (!row) return !this.rows.has(r.handle);
        row.attempts = r.attempts;
        row.availableAt = Date.now() + (row.timeoutMs ?? turn.options.defaultTimeoutMs) + turn.options.leaseMarginMs;
        return true;
      });
      for (const r of turn.giveBacks) {
        const row = this.owned(r);
        if (!row) continue;
        row.token = null;
        row.availableAt = 0;
        row.order = -row.order;
      }
      const held = turn.options.count > 0 ? this.take(turn.queues, turn.options, turn.options.holdMs) : [];
      return { acked, started, held };
    });
    return { written: this.written, result };
  }
}
