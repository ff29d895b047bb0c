/**
 * The `redis` driver. Every state change is one Lua script (lua/*.lua) on the keys of one queue,
 * so it is atomic and Cluster-safe; the client never reads and then writes. Idle workers block on
 * the queue's notify list (BLPOP) instead of polling.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { QueueError } from '../../errors.ts';
import type { AckAndReserve, AckedAndReserved, BlockingWait, Driver, Failure, QueueStats, Reservation, ReserveOptions, StoredJob, WorkerSignals } from '../../queue/driver.ts';
import { backendUnavailable } from '../../queue/unavailable.ts';
import type { RedisTarget } from './connect.ts';
import { RedisKeys, type QueueKeys } from './keys.ts';
import { RedisFailedStore } from './RedisFailedStore.ts';
import { defineScripts } from './scripts.ts';

const RESTART = 'restart';
const PAUSED = 'paused:';
/** A blocked worker wakes at least this often, so it notices a stop within about a second. */
const MAX_BLOCK_MS = 1_000;
const ACK_ONLY: ReserveOptions = { count: 0, defaultTimeout: 0, leaseMargin: 0 };

export class RedisDriver implements Driver, AckAndReserve, BlockingWait {
  readonly failed: RedisFailedStore;
  readonly keys: RedisKeys;
  private readonly client: Redis | Cluster;
  private blocker: Redis | Cluster | undefined;
  private lastError: Error | undefined;
  /** Per queue: when (local ms) a delayed job or a lease next comes due. */
  private readonly nextDue = new Map<string, number>();
  /** Cluster only: queue names this client has already added to the set of queues. */
  private readonly knownQueues = new Set<string>();

  constructor(
    readonly connection: string,
    private readonly target: RedisTarget,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
    this.client = this.open();
    this.failed = new RedisFailedStore(connection, this.keys, this.client, (what, work) => this.call(what, work));
  }

  private get isCluster(): boolean {
    return 'nodes' in this.client && typeof this.client.nodes === 'function';
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
    if (message.startsWith('ERR_NOT_FOUND')) {
      const id = message.split(' ')[1] ?? '';
      return new QueueError('FAILED_JOB_NOT_FOUND', `no failed job with id ${id}; nothing was retried (see queue failed:list)`);
    }
    if (message.startsWith('ERR_ARGS')) return new QueueError('INVALID_ARGUMENT', `cannot ${what}: ${message.slice('ERR_ARGS '.length)}`);
    const reason = this.lastError && /max retries|Connection is closed|Stream isn't writeable/i.test(message) ? this.lastError.message : message;
    return backendUnavailable(what, 'Redis', this.connection, this.target.describe, reason, error);
  }

  async push(jobs: StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const byQueue = new Map<string, StoredJob[]>();
    for (const job of jobs) {
      const group = byQueue.get(job.queue);
      if (group) group.push(job);
      else byQueue.set(job.queue, [job]);
    }
    await this.call('push jobs', async () => {
      if (!this.isCluster) return void (await this.pushScript([...byQueue], this.keys.queues));
      // A Cluster runs a script on one slot only: there a bulk that spans queues is atomic per queue,
      // and the set of queue names (in its own slot) is written apart, once per name per process.
      const unknown = [...byQueue.keys()].filter((queue) => !this.knownQueues.has(queue));
      if (unknown.length > 0) {
        await this.client.sadd(this.keys.queues, ...unknown);
        for (const queue of unknown) this.knownQueues.add(queue);
      }
      for (const group of byQueue) await this.pushScript([group]);
    });
  }

  private async pushScript(groups: [string, StoredJob[]][], namesKey?: string): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const [queue] of groups) {
      const k = this.keys.queue(queue);
      keys.push(k.ready, k.delayed, k.jobs, k.timeouts, k.notify);
      args.push(queue);
    }
    if (namesKey) keys.push(namesKey);
    groups.forEach(([, group], index) => {
      for (const job of group) {
        args.push(index + 1, job.id, job.payload ?? '', Math.max(0, Math.round(job.delayMs)), job.timeout === null ? '' : Math.ceil(job.timeout * 1000));
      }
    });
    await this.client.queue_v1_push(keys.length, ...keys, ...args);
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    return (await this.ackAndReserve([], queues, options)).reserved;
  }

  async ack(r: Reservation): Promise<boolean> {
    return (await this.ackAndReserve([r], [], ACK_ONLY)).acked[0]!;
  }

  async ackAndReserve(acks: readonly Reservation[], queues: string[], options: ReserveOptions): Promise<AckedAndReserved> {
    const what = queues.length === 0 || options.count === 0 ? 'acknowledge jobs' : 'reserve jobs';
    return this.call(what, async () => {
      if (!this.isCluster) return this.reserveScript(acks, queues, options);
      // A Cluster runs a script on one slot only: one call per queue, each carrying that queue's acks.
      const acked = new Array<boolean>(acks.length);
      const pending = new Map<string, number[]>();
      acks.forEach((ack, index) => {
        const indexes = pending.get(ack.queue);
        if (indexes) indexes.push(index);
        else pending.set(ack.queue, [index]);
      });
      let reserved: Reservation[] = [];
      const settle = async (queue: string, take: string[], count: number) => {
        const indexes = pending.get(queue) ?? [];
        pending.delete(queue);
        const result = await this.reserveScript(indexes.map((i) => acks[i]!), take, { ...options, count });
        indexes.forEach((i, k) => (acked[i] = result.acked[k]!));
        return result.reserved;
      };
      for (const queue of queues) {
        if (options.count > 0 && reserved.length === 0) reserved = await settle(queue, [queue], options.count);
        else if (pending.has(queue)) await settle(queue, [], 0);
      }
      for (const queue of [...pending.keys()]) await settle(queue, [], 0);
      return { acked, reserved };
    });
  }

  /** One run of reserve.lua over the queues of `acks` and `queues` (all in one slot, or no Cluster). */
  private async reserveScript(acks: readonly Reservation[], queues: string[], options: ReserveOptions): Promise<AckedAndReserved> {
    const involved: string[] = [...queues];
    const indexOf = (queue: string) => {
      let index = involved.indexOf(queue);
      if (index < 0) index = involved.push(queue) - 1;
      return index + 1;
    };
    const args: (string | number)[] = [acks.length];
    for (const ack of acks) args.push(indexOf(ack.queue), ack.handle, ack.token);
    const token = options.count > 0 ? randomUUID() : '';
    args.push(options.count, token, Math.ceil(options.defaultTimeout * 1000), Math.ceil(options.leaseMargin * 1000));
    for (let i = 1; i <= queues.length; i += 1) args.push(i);
    const keys: string[] = [];
    for (const queue of involved) {
      const k = this.keys.queue(queue);
      keys.push(k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts);
    }

    const reply = await this.client.queue_v1_reserve(keys.length, ...keys, ...args);
    const acked = Array.from(String(reply[2] ?? ''), (flag) => flag === '1');
    const reserved: Reservation[] = [];
    for (let i = 3; i < reply.length; i += 5) {
      const handle = String(reply[i + 1]);
      reserved.push({
        handle,
        queue: involved[Number(reply[i]) - 1]!,
        // A list element without a stored payload was pushed by hand: it is its own payload.
        payload: reply[i + 2] === null ? handle : String(reply[i + 2]),
        attempts: Number(reply[i + 3]),
        token,
        leaseExpiresAt: Number(reply[i + 4]),
      });
    }
    if (options.count > 0) {
      const now = Number(reply[0]);
      const next = Number(reply[1]);
      for (const queue of queues) {
        if (next >= 0) this.nextDue.set(queue, Date.now() + (next - now));
        else this.nextDue.delete(queue);
      }
    }
    return { acked, reserved };
  }

  async release(r: Reservation, delaySeconds: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const delay = Math.max(0, Math.round(delaySeconds * 1000));
    const refund = options.refundAttempt ? 1 : 0;
    return (await this.call('release a job', () => this.client.queue_v1_release(k.ready, k.delayed, k.reserved, k.tokens, k.notify, k.attempts, r.handle, r.token, delay, refund))) === 1;
  }

  async fail(r: Reservation, failure: Failure): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const record = JSON.stringify({ connection: this.connection, queue: r.queue, job: failure.job, payload: failure.payload, error: failure.error });
    const stored = await this.call('fail a job', () =>
      this.client.queue_v1_fail(k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.failed, k.failedAt, r.handle, r.token, failure.id ?? randomUUID(), randomUUID(), record),
    );
    return stored !== 0;
  }

  async size(queue: string): Promise<number> {
    const k = this.keys.queue(queue);
    return this.call('count jobs', async () => {
      const [ready, delayed, reserved] = await Promise.all([this.client.llen(k.ready), this.client.zcard(k.delayed), this.client.zcard(k.reserved)]);
      return ready + delayed + reserved;
    });
  }

  async stats(): Promise<QueueStats[]> {
    return this.call('read queue stats', async () => {
      const queues = (await this.client.smembers(this.keys.queues)).sort();
      const stats = await Promise.all(queues.map(async (queue) => {
        const k = this.keys.queue(queue);
        const [ready, delayed, reserved, failed] = (await this.client.queue_v1_stats(k.ready, k.delayed, k.reserved, k.failed)).map(Number);
        return { queue, ready: ready!, delayed: delayed!, reserved: reserved!, failed: failed! };
      }));
      return stats.filter((s) => s.ready + s.delayed + s.reserved + s.failed > 0);
    });
  }

  async clear(queue: string): Promise<number> {
    const k = this.keys.queue(queue);
    return this.call('clear a queue', () => this.client.queue_v1_clear(k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.notify));
  }

  /** Blocks until a job may be ready on one of `queues`, for at most `maxMs` (and about a second). */
  async waitForJobs(queues: string[], maxMs: number): Promise<void> {
    const due = Math.min(...queues.map((queue) => this.nextDue.get(queue) ?? Number.POSITIVE_INFINITY)) - Date.now();
    const wait = Math.min(maxMs, MAX_BLOCK_MS, due);
    if (wait < 5) return;
    if (!this.blocker) {
      this.blocker = this.client.duplicate();
      this.blocker.on('error', (error: Error) => {
        this.lastError = error;
      });
    }
    // A Cluster can only block on keys of one slot: there a worker of several queues blocks on the
    // first and looks at the others at least every 200 ms.
    const keys = this.isCluster && queues.length > 1 ? [this.keys.queue(queues[0]!).notify] : queues.map((queue) => this.keys.queue(queue).notify);
    const seconds = (this.isCluster && queues.length > 1 ? Math.min(wait, 200) : wait) / 1000;
    await this.call('wait for jobs', () => this.blocker!.blpop(...keys, seconds.toFixed(3)));
  }

  async signals(): Promise<WorkerSignals> {
    const [all, now] = await this.call('read worker signals', () => Promise.all([this.client.hgetall(this.keys.signals), this.now()]));
    const paused = Object.keys(all).filter((name) => name.startsWith(PAUSED)).map((name) => name.slice(PAUSED.length));
    return { now, restartRequestedAt: all[RESTART] ? Number(all[RESTART]) : null, paused: paused.sort() };
  }

  /** Redis's clock, in ms. */
  private async now(): Promise<number> {
    const [seconds, micros] = await this.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async requestRestart(): Promise<void> {
    await this.call('request a restart', async () => this.client.hset(this.keys.signals, RESTART, await this.now()));
  }

  async pause(queue: string): Promise<void> {
    await this.call('pause a queue', async () => this.client.hset(this.keys.signals, PAUSED + queue, await this.now()));
  }

  async resume(queue: string): Promise<void> {
    await this.call('resume a queue', () => this.client.hdel(this.keys.signals, PAUSED + queue));
  }

  async close(): Promise<void> {
    for (const client of [this.client, this.blocker]) client?.disconnect();
  }
}
