/**
 * The `redis` driver. Every state change is one Lua script (lua/*.lua) on the keys of one queue,
 * so it is atomic and Cluster-safe; the client never reads and then writes. Idle workers block on
 * the queue's notify list (BLPOP) instead of polling. On a Redis Cluster a few paths differ
 * (cluster.ts); the rest of this file reads as for a single Redis.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import { failedJobNotFound, QueueError } from '../../errors.ts';
import type { BlockingWait, Completion, Driver, FinishNotices, Holding, Keeping, Pushed, Turn, TurnResult, Failure, QueueStats, Reservation, ReserveOptions, StoredJob, WorkerSignals } from '../../contract/driver.ts';
import { cancelSignal, pausedSignal, RESTART_SIGNAL, workerSignals } from '../../contract/signals.ts';
import { backendUnavailable } from '../../contract/unavailable.ts';
import { ClusterPaths } from './cluster.ts';
import { RedisMonitor } from './RedisMonitor.ts';
import { RedisSchedules } from './RedisSchedules.ts';
import type { RedisTarget } from './connect.ts';
import { keyList, RedisKeys } from './keys.ts';
import { FinishSubscriber } from './notices.ts';
import { decodePush, encodePush } from './push-wire.ts';
import { RedisFailedStore } from './RedisFailedStore.ts';
import { RedisRecords } from './RedisRecords.ts';
import { CANCEL_RUNNING_KEYS, CLEAR_KEYS, FAIL_KEYS, RELEASE_KEYS, STATS_KEYS } from './script-keys.ts';
import { defineScripts, runScript, type Reply } from './scripts.ts';
import { decodeTurn, encodeTurn, keepingArgs } from './turn-wire.ts';

/** What to fix when Redis refused us, by its error's first word: the variables of .env.example. */
const REDIS_FIXES: [RegExp, string][] = [
  [/^WRONGPASS/, 'check REDIS_PASSWORD (and REDIS_USERNAME), or the password in REDIS_URL'],
  [/^NOAUTH/, 'this server wants a password: set REDIS_PASSWORD, or put it in REDIS_URL'],
  [/^NOPERM/, "this Redis user's ACL does not allow it: grant the queue's commands and keys (ACL SETUSER), or use another REDIS_USERNAME"],
];

/** A blocked worker wakes at least this often, so it notices a stop within about a second. */
const MAX_BLOCK_MS = 1_000;
const NOTHING_TO_TAKE: Turn['options'] = { count: 0, defaultTimeoutMs: 0, leaseMarginMs: 0, holdMs: 0 };

export class RedisDriver implements Driver, Holding, BlockingWait, FinishNotices {
  readonly failed: RedisFailedStore;
  readonly records: RedisRecords;
  readonly schedules: RedisSchedules;
  readonly monitor: RedisMonitor;
  readonly keys: RedisKeys;
  private readonly client: Redis | Cluster;
  private readonly cluster: ClusterPaths | undefined;
  private blocker: Redis | Cluster | undefined;
  private readonly notices: FinishSubscriber;
  private lastError: Error | undefined;
  /** Per queue: when (local ms) a delayed job or a lease next comes due. */
  private readonly nextDue = new Map<string, number>();
  /** Names this client's `took` keys (see turn.lua): one per client and queue. */
  private readonly clientId = randomUUID();

  constructor(
    readonly connection: string,
    private readonly target: RedisTarget,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
    this.client = this.open();
    this.failed = new RedisFailedStore(connection, this.keys, this.client, (what, work) => this.call(what, work));
    this.records = new RedisRecords(connection, this.keys, this.client, (what, work) => this.call(what, work));
    this.notices = new FinishSubscriber(() => {
      const subscriber = this.client.duplicate();
      subscriber.on('error', (error: Error) => {
        this.lastError = error;
      });
      return subscriber;
    }, this.keys.finished);
    const isCluster = 'nodes' in this.client && typeof this.client.nodes === 'function';
    this.schedules = new RedisSchedules(this.client, this.keys, (what, work) => this.call(what, work), !isCluster);
    this.monitor = new RedisMonitor(this.client, this.keys, (what, work) => this.call(what, work), () => this.now());
    this.cluster = isCluster
      ? new ClusterPaths((queues) => this.client.sadd(this.keys.queues, ...queues), (jobs) => this.pushScript(jobs), (turn) => this.turnScript(turn))
      : undefined;
  }

  private open(): Redis | Cluster {
    const client = this.target.create();
    // ioredis reconnects by itself; errors also reach the command that failed, so only keep the last.
    client.on('error', (error: Error) => {
      this.lastError = error;
    });
    defineScripts(client);
    return client;
  }

  /** Runs a Redis call; a connection problem becomes one clear error that names no secret. */
  async call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  private translate(what: string, error: unknown): Error {
    if (error instanceof QueueError) return error;
    const message = (error as Error)?.message ?? String(error);
    if (message.startsWith('ERR_NOT_FOUND')) return failedJobNotFound([message.split(' ')[1] ?? '']);
    if (message.startsWith('ERR_ARGS')) return new QueueError('INVALID_ARGUMENT', `cannot ${what}: ${message.slice('ERR_ARGS '.length)}`);
    const reason = this.lastError && /max retries|Connection is closed|Stream isn't writeable/i.test(message) ? this.lastError.message : message;
    const fix = REDIS_FIXES.find(([pattern]) => pattern.test(reason))?.[1];
    return backendUnavailable(what, 'Redis', this.connection, this.target.describe, reason, error, fix);
  }

  async push(jobs: StoredJob[]): Promise<Pushed[]> {
    if (jobs.length === 0) return [];
    return this.call('push jobs', () => (this.cluster ? this.cluster.push(jobs) : this.pushScript(jobs, this.keys.queues)));
  }

  /** push.lua or push_placed.lua over the queues of `jobs` (all in one slot, or no Cluster); `namesKey` when the set of queue names is in reach. */
  private async pushScript(jobs: StoredJob[], namesKey?: string): Promise<Pushed[]> {
    const { script, keys, args } = encodePush(jobs, (queue) => this.keys.queue(queue), namesKey);
    return decodePush(await runScript<Reply[]>(this.client, script, keys, args), jobs);
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    // No hold: the jobs taken count their try at once.
    const { result } = this.turn({ acks: [], starts: [], giveBacks: [], queues, options: { ...options, holdMs: 0 } });
    return (await result).held;
  }

  async ack(reservation: Reservation, completion?: Completion): Promise<boolean> {
    const { result } = this.turn({ acks: [completion ? { reservation, completion } : { reservation }], starts: [], giveBacks: [], queues: [], options: NOTHING_TO_TAKE });
    return (await result).acked[0]!;
  }

  /** One turn (turn.lua); with `holdMs` 0 the jobs taken count their try at once, as reserve() does. */
  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> } {
    const what = turn.queues.length > 0 && turn.options.count > 0 ? 'reserve jobs' : 'acknowledge jobs';
    if (this.cluster) return { written: false, result: this.call(what, () => this.cluster!.turn(turn)) };
    const sent = this.turnScript(turn);
    // The bytes went out with the call, unless the client is queueing them (reconnecting) or the
    // socket is backed up: then a start is not safe until Redis has answered.
    const stream = (this.client as Redis).stream as { writableLength?: number } | undefined;
    const written = (this.client as Redis).status === 'ready' && stream?.writableLength === 0;
    return { written, result: this.call(what, () => sent) };
  }

  /** One run of turn.lua over the queues the turn touches (all in one slot, or no Cluster). */
  private async turnScript(turn: Turn): Promise<TurnResult> {
    const encoded = encodeTurn(turn, (queue) => this.keys.queue(queue), this.keys.finished, this.clientId, turn.options.count > 0 ? randomUUID() : '');
    const { result, now, nextDue } = decodeTurn(await runScript<Reply[]>(this.client, 'turn', encoded.keys, encoded.args), encoded);
    for (const queue of encoded.take) {
      if (nextDue >= 0) this.nextDue.set(queue, Date.now() + (nextDue - now));
      else this.nextDue.delete(queue);
    }
    return result;
  }

  async release(r: Reservation, delayMs: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const args = [r.handle, r.token, Math.max(0, Math.round(delayMs)), options.refundAttempt ? 1 : 0];
    return (await this.call('release a job', () => runScript<number>(this.client, 'release', keyList(k, RELEASE_KEYS), args))) === 1;
  }

  async fail(r: Reservation, failure: Failure): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const record = this.failed.encodeRecord(r.queue, failure);
    const args = [r.handle, r.token, failure.id ?? randomUUID(), randomUUID(), record, this.keys.finished];
    const stored = await this.call('fail a job', () => runScript<string | number>(this.client, 'fail', keyList(k, FAIL_KEYS), args));
    return stored !== 0;
  }

  /**
   * cancel_running.lua, then the `cancel:<id>` signal goes: it lives in another hash slot (see
   * cancel.lua), and one left behind when this process dies in between is dropped by prune.
   */
  async cancelRunning(r: Reservation, keeping: Keeping): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    return this.call('cancel a running job', async () => {
      const ended = (await runScript<number>(this.client, 'cancel_running', keyList(k, CANCEL_RUNNING_KEYS), [r.handle, r.token, ...keepingArgs(keeping), this.keys.finished])) === 1;
      if (ended) await this.client.hdel(this.keys.signals, cancelSignal(r.handle));
      return ended;
    });
  }

  async progress(r: Reservation, progress: string): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    return (await this.call("store a job's progress", () => runScript<number>(this.client, 'progress', [k.tokens, k.progress], [r.handle, r.token, progress]))) === 1;
  }

  async size(queue: string): Promise<number> {
    const k = this.keys.queue(queue);
    return this.call('count jobs', async () => {
      const [ready, delayed, reserved] = (await runScript<number[]>(this.client, 'stats', keyList(k, STATS_KEYS), [])).map(Number);
      return ready! + delayed! + reserved!;
    });
  }

  async stats(): Promise<QueueStats[]> {
    return this.call('read queue stats', async () => {
      const queues = (await this.client.smembers(this.keys.queues)).sort();
      const stats = await Promise.all(queues.map(async (queue) => {
        const k = this.keys.queue(queue);
        const [ready, delayed, reserved, failed, completed, cancelled] = (await runScript<number[]>(this.client, 'stats', keyList(k, STATS_KEYS), [])).map(Number);
        return { queue, ready: ready!, delayed: delayed!, reserved: reserved!, failed: failed!, completed: completed!, cancelled: cancelled! };
      }));
      return stats.filter((s) => s.ready + s.delayed + s.reserved + s.failed + s.completed + s.cancelled > 0);
    });
  }

  async clear(queue: string): Promise<number> {
    const k = this.keys.queue(queue);
    return this.call('clear a queue', () => runScript<number>(this.client, 'clear', [...keyList(k, CLEAR_KEYS), k.once(randomUUID())], []));
  }

  /**
   * Blocks until a job may be ready on one of `queues`, for at most `maxMs` (and about a second), or
   * until `abort` fires: the BLPOP then ends by itself, its answer unread (a notify entry is a hint).
   * Always resolves to true: a delayed job pushed by another process tells no notify list, so the
   * worker takes after each block, and its take moves what came due.
   */
  async waitForJobs(queues: string[], maxMs: number, abort?: AbortSignal): Promise<boolean> {
    if (abort?.aborted) return true;
    const due = Math.min(...queues.map((queue) => this.nextDue.get(queue) ?? Number.POSITIVE_INFINITY)) - Date.now();
    const wait = Math.min(maxMs, MAX_BLOCK_MS, due);
    if (wait < 5) return true;
    if (!this.blocker) {
      this.blocker = this.client.duplicate();
      this.blocker.on('error', (error: Error) => {
        this.lastError = error;
      });
    }
    const notify = queues.map((queue) => this.keys.queue(queue).notify);
    const { keys, ms } = this.cluster ? ClusterPaths.blocking(notify, wait) : { keys: notify, ms: wait };
    const blocking = this.call('wait for jobs', () => this.blocker!.blpop(...keys, (ms / 1000).toFixed(3)));
    if (abort) {
      blocking.catch(() => undefined);
      await Promise.race([blocking, once(abort, 'abort')]);
    } else {
      await blocking;
    }
    return true;
  }

  async signals(): Promise<WorkerSignals> {
    const [stored, now] = await this.call('read which queues are paused', () => Promise.all([this.client.hgetall(this.keys.signals), this.now()]));
    return workerSignals(Object.entries(stored).map(([name, value]) => [name, Number(value)]), now);
  }

  /** Redis's clock, in ms. */
  private async now(): Promise<number> {
    const [seconds, micros] = await this.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async requestRestart(): Promise<void> {
    await this.call('request a restart', async () => this.client.hset(this.keys.signals, RESTART_SIGNAL, await this.now()));
  }

  async pause(queue: string): Promise<void> {
    await this.call('pause a queue', async () => this.client.hset(this.keys.signals, pausedSignal(queue), await this.now()));
  }

  async resume(queue: string): Promise<void> {
    await this.call('resume a queue', () => this.client.hdel(this.keys.signals, pausedSignal(queue)));
  }

  /** Tells `listener` the ids of jobs that complete with a record, fail, are cancelled or expire (see notices.ts). */
  async onFinished(listener: (ids: string[]) => void): Promise<() => void> {
    try {
      return await this.notices.listen(listener);
    } catch (error) {
      throw this.translate('listen for finished jobs', error);
    }
  }

  async close(): Promise<void> {
    await this.notices.close();
    for (const client of [this.client, this.blocker]) client?.disconnect();
  }
}
