/**
 * The `redis` driver. Every state change is one Lua script (lua/*.lua) on the keys of one queue,
 * so it is atomic and Cluster-safe; the client never reads and then writes. Idle workers block on
 * the queue's notify list (BLPOP) instead of polling.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { QueueError } from '../../errors.ts';
import type { BlockingWait, Driver, Holding, Turn, TurnResult, Failure, QueueStats, Reservation, ReserveOptions, StoredJob, WorkerSignals } from '../../queue/driver.ts';
import { backendUnavailable } from '../../queue/unavailable.ts';
import type { RedisTarget } from './connect.ts';
import { RedisKeys, type QueueKeys } from './keys.ts';
import { RedisFailedStore } from './RedisFailedStore.ts';
import { defineScripts, type Reply } from './scripts.ts';

const RESTART = 'restart';
const PAUSED = 'paused:';
/** A blocked worker wakes at least this often, so it notices a stop within about a second. */
const MAX_BLOCK_MS = 1_000;
const NOTHING_TO_TAKE: Turn['options'] = { count: 0, defaultTimeout: 0, leaseMargin: 0, holdMs: 0 };

export class RedisDriver implements Driver, Holding, BlockingWait {
  readonly failed: RedisFailedStore;
  readonly keys: RedisKeys;
  private readonly client: Redis | Cluster;
  private blocker: Redis | Cluster | undefined;
  private lastError: Error | undefined;
  /** Per queue: when (local ms) a delayed job or a lease next comes due. */
  private readonly nextDue = new Map<string, number>();
  /** Cluster only: queue names this client has already added to the set of queues. */
  private readonly knownQueues = new Set<string>();
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
        const timeout = job.timeout === null ? '' : Math.ceil(job.timeout * 1000);
        args.push(`${index + 1},${Math.max(0, Math.round(job.delayMs))},${timeout},${Buffer.byteLength(job.id)}:${job.id}${job.payload ?? ''}`);
      }
    });
    await this.client.queue_v2_push(keys.length, ...keys, ...args);
  }

  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    // No hold: the jobs taken count their try at once.
    const { result } = this.turn({ acks: [], starts: [], unholds: [], queues, options: { ...options, holdMs: 0 } });
    return (await result).held;
  }

  async ack(r: Reservation): Promise<boolean> {
    const { result } = this.turn({ acks: [r], starts: [], unholds: [], queues: [], options: NOTHING_TO_TAKE });
    return (await result).acked[0]!;
  }

  /** One turn (turn.lua); with `holdMs` 0 the jobs taken count their try at once, as reserve() does. */
  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> } {
    const what = turn.queues.length > 0 && turn.options.count > 0 ? 'reserve jobs' : 'acknowledge jobs';
    if (this.isCluster) return { written: false, result: this.call(what, () => this.clusterTurn(turn)) };
    const sent = this.turnScript(turn);
    // The bytes went out with the call, unless the client is queueing them (reconnecting) or the
    // socket is backed up: then a start is not safe until Redis has answered.
    const stream = (this.client as Redis).stream as { writableLength?: number } | undefined;
    const written = (this.client as Redis).status === 'ready' && stream?.writableLength === 0;
    return { written, result: this.call(what, () => sent) };
  }

  /**
   * A Cluster runs a script on one slot only: one turn per queue, each carrying that queue's acks,
   * starts and give-backs; the take goes to the queues in priority order until one has jobs.
   */
  private async clusterTurn(turn: Turn): Promise<TurnResult> {
    const result: TurnResult = { acked: new Array(turn.acks.length), started: new Array(turn.starts.length), held: [] };
    const byQueue = new Map<string, { acks: number[]; starts: number[]; unholds: number[] }>();
    const group = (queue: string) => {
      let g = byQueue.get(queue);
      if (!g) byQueue.set(queue, (g = { acks: [], starts: [], unholds: [] }));
      return g;
    };
    turn.acks.forEach((r, i) => group(r.queue).acks.push(i));
    turn.starts.forEach((r, i) => group(r.queue).starts.push(i));
    turn.unholds.forEach((r, i) => group(r.queue).unholds.push(i));
    const run = async (queue: string, take: boolean) => {
      const g = byQueue.get(queue) ?? { acks: [], starts: [], unholds: [] };
      byQueue.delete(queue);
      const part = await this.turnScript({
        acks: g.acks.map((i) => turn.acks[i]!),
        starts: g.starts.map((i) => turn.starts[i]!),
        unholds: g.unholds.map((i) => turn.unholds[i]!),
        queues: take ? [queue] : [],
        options: turn.options,
      });
      g.acks.forEach((i, k) => (result.acked[i] = part.acked[k]!));
      g.starts.forEach((i, k) => (result.started[i] = part.started[k]!));
      return part.held;
    };
    if (turn.options.count > 0) {
      for (const queue of turn.queues) {
        result.held = await run(queue, true);
        if (result.held.length > 0) break;
      }
    }
    await Promise.all([...byQueue.keys()].map((queue) => run(queue, false)));
    return result;
  }

  /** One run of turn.lua over the queues the turn touches (all in one slot, or no Cluster). */
  private async turnScript(turn: Turn): Promise<TurnResult> {
    const { options } = turn;
    const take = options.count > 0 ? turn.queues : [];
    const involved = [...take];
    const indexOf = (queue: string) => {
      let index = involved.indexOf(queue);
      if (index < 0) index = involved.push(queue) - 1;
      return index + 1;
    };
    const token = take.length > 0 ? randomUUID() : '';
    const args: (string | number)[] = [
      options.count, options.holdMs > 0 ? 1 : 0, token,
      Math.ceil(options.defaultTimeout * 1000), Math.ceil(options.leaseMargin * 1000), Math.ceil(options.holdMs),
      take.length,
    ];
    for (let i = 1; i <= take.length; i += 1) args.push(i);
    for (const list of [turn.acks, turn.starts, turn.unholds]) {
      args.push(list.length);
      // A start carries the try it is: a second run of the script sets the count again, rather than adding one.
      for (const r of list) args.push(indexOf(r.queue), r.handle, r.token, ...(list === turn.starts ? [r.attempts] : []));
    }
    const keys: string[] = [];
    for (const queue of involved) {
      const k = this.keys.queue(queue);
      keys.push(k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.notify, k.took(this.clientId));
    }

    const reply = await this.client.queue_v2_turn(keys.length, ...keys, ...args);
    const flags = (value: Reply | undefined) => Array.from(String(value ?? ''), (flag) => flag === '1');
    const held: Reservation[] = [];
    for (let i = 4; i < reply.length; i += 5) {
      const handle = String(reply[i + 1]);
      held.push({
        handle,
        queue: involved[Number(reply[i]) - 1]!,
        // A list element without a stored payload was pushed by hand: it is its own payload.
        payload: reply[i + 2] === null ? handle : String(reply[i + 2]),
        attempts: Number(reply[i + 3]),
        token,
        leaseExpiresAt: Number(reply[i + 4]),
      });
    }
    if (take.length > 0) {
      const now = Number(reply[0]);
      const next = Number(reply[1]);
      for (const queue of take) {
        if (next >= 0) this.nextDue.set(queue, Date.now() + (next - now));
        else this.nextDue.delete(queue);
      }
    }
    return { acked: flags(reply[2]), started: flags(reply[3]), held };
  }

  async release(r: Reservation, delaySeconds: number, options: { refundAttempt?: boolean } = {}): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const delay = Math.max(0, Math.round(delaySeconds * 1000));
    const refund = options.refundAttempt ? 1 : 0;
    return (await this.call('release a job', () => this.client.queue_v2_release(k.ready, k.delayed, k.reserved, k.tokens, k.notify, k.attempts, k.jobs, r.handle, r.token, delay, refund))) === 1;
  }

  async fail(r: Reservation, failure: Failure): Promise<boolean> {
    const k = this.keys.queue(r.queue);
    const record = JSON.stringify({ connection: this.connection, queue: r.queue, job: failure.job, payload: failure.payload, error: failure.error });
    const stored = await this.call('fail a job', () =>
      this.client.queue_v2_fail(k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.failed, k.failedAt, r.handle, r.token, failure.id ?? randomUUID(), randomUUID(), record),
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
        const [ready, delayed, reserved, failed] = (await this.client.queue_v2_stats(k.ready, k.delayed, k.reserved, k.failed)).map(Number);
        return { queue, ready: ready!, delayed: delayed!, reserved: reserved!, failed: failed! };
      }));
      return stats.filter((s) => s.ready + s.delayed + s.reserved + s.failed > 0);
    });
  }

  async clear(queue: string): Promise<number> {
    const k = this.keys.queue(queue);
    return this.call('clear a queue', () => this.client.queue_v2_clear(k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.once(randomUUID())));
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
