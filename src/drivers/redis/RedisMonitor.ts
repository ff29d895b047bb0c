/**
 * Workers' heartbeats and per-minute metrics on Redis (SPEC 15). The workers live in a slot of
 * their own (`{workers}`); a queue's metrics live in the queue's slot, one hash per hour of minute
 * buckets and one of all-time totals (keys.ts). A beat is beat.lua plus one add_metrics.lua per
 * queue it has counts of, sent at once: one round trip, each script atomic and in one slot, so
 * Redis Cluster works.
 */
import type { Cluster, Redis } from 'ioredis';
import { METRIC_KEEP_MS, type MetricBucket, type MonitorStore, type WorkerBeat, type WorkerInfo } from '../../contract/driver.ts';
import { minuteOf } from '../../contract/metrics.ts';
import { keyList, type RedisKeys } from './keys.ts';
import { unpackPayload } from './packed.ts';
import { OLDEST_READY_KEYS } from './script-keys.ts';
import { runScript } from './scripts.ts';

type Call = <T>(what: string, work: () => Promise<T>) => Promise<T>;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export class RedisMonitor implements MonitorStore {
  constructor(
    private readonly client: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly call: Call,
    /** Redis's clock, in ms: a worker's lease and the keep of the buckets are measured by it. */
    private readonly now: () => Promise<number>,
  ) {}

  async beat(beat: WorkerBeat, leaseMs: number, metrics: MetricBucket[]): Promise<void> {
    const byQueue = new Map<string, MetricBucket[]>();
    for (const bucket of metrics) {
      const buckets = byQueue.get(bucket.queue);
      if (buckets) buckets.push(bucket);
      else byQueue.set(bucket.queue, [bucket]);
    }
    const workerKeys = [this.keys.workerBeats, this.keys.workerLeases, this.keys.metricQueues];
    await this.call('send a heartbeat', () => Promise.all([
      runScript(this.client, 'beat', workerKeys, [beat.id, beat.seq, leaseMs, JSON.stringify(beat), ...byQueue.keys()]),
      ...[...byQueue].map(([queue, buckets]) => this.addMetrics(queue, beat, buckets)),
    ]));
  }

  /** add_metrics.lua for one queue's buckets: each bucket's hour hash is a key of its own, in the buckets' order. */
  private addMetrics(queue: string, beat: WorkerBeat, buckets: MetricBucket[]): Promise<unknown> {
    const k = this.keys.queue(queue);
    const hours = buckets.map((bucket) => k.metricsHour(hourOf(bucket.minute)));
    const args = buckets.flatMap((bucket) => {
      const counts = Object.entries(bucket.counts);
      return [bucket.minute, counts.length, ...counts.flat()];
    });
    return runScript(this.client, 'add_metrics', [k.metrics, k.metricsSeen(beat.id), ...hours], [beat.seq, METRIC_KEEP_MS, ...args]);
  }

  async leave(id: string): Promise<void> {
    await this.call('take a worker off the list', () => runScript(this.client, 'leave', [this.keys.workerBeats, this.keys.workerLeases], [id]));
  }

  /** Those of the stored beats whose lease has not run out by Redis's clock: the next beat drops the others. */
  workers(): Promise<WorkerInfo[]> {
    return this.call('read the workers', async () => {
      const [stored, now] = await Promise.all([this.client.hgetall(this.keys.workerBeats), this.now()]);
      return Object.values(stored)
        .map(decodeWorker)
        .filter((worker) => worker.expiresAt > now)
        .sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id));
    });
  }

  /**
   * Reads, all at once, the hour hashes that cover the minutes asked for: at most 27 per queue, the
   * keep's 25 hours, the hour under way, and the next one for buckets of a worker whose clock runs
   * ahead of Redis's.
   */
  metrics({ since, queue }: { since: number; queue?: string }): Promise<MetricBucket[]> {
    return this.call('read metrics', async () => {
      const [queues, now] = await Promise.all([this.queuesOf(queue), this.now()]);
      const from = Math.max(minuteOf(since), now - METRIC_KEEP_MS);
      const hours: number[] = [];
      for (let hour = hourOf(from); hour <= hourOf(now) + HOUR_MS; hour += HOUR_MS) hours.push(hour);
      const read = await Promise.all(queues.flatMap((name) => hours.map(async (hour) =>
        minuteBuckets(name, hour, await this.client.hgetall(this.keys.queue(name).metricsHour(hour))))));
      return read.flat()
        .filter((bucket) => bucket.minute >= from)
        .sort((a, b) => a.minute - b.minute || compareText(a.queue, b.queue));
    });
  }

  totals(options: { queue?: string } = {}): Promise<MetricBucket[]> {
    return this.call('read metric totals', async () => {
      const queues = await this.queuesOf(options.queue);
      const totals = await Promise.all(queues.map((name) => this.client.hgetall(this.keys.queue(name).metrics)));
      return queues
        .map((name, i) => ({ queue: name, minute: 0, counts: numbers(Object.entries(totals[i]!)) }))
        .filter((bucket) => Object.keys(bucket.counts).length > 0);
    });
  }

  /**
   * Redis keeps no "ready since" time: this is the earliest of when the jobs at the front of the
   * ready lists (one per priority) became ready by their envelopes (availableAt, or createdAt: a
   * job back from a retry counts from its dispatch), of when the first due delayed job came due,
   * and of when the first lease that ran out ended (see oldest_ready.lua).
   */
  async oldestReady(queue: string): Promise<number | null> {
    const k = this.keys.queue(queue);
    type Found = [due: string | null, lapsed: string | null, ...heads: (string | null)[]];
    const [due, lapsed, ...heads] = await this.call('read the oldest ready job', () =>
      runScript<Found>(this.client, 'oldest_ready', keyList(k, OLDEST_READY_KEYS), []));
    const times = [scoreOf(due), scoreOf(lapsed)];
    for (let i = 0; i < heads.length; i += 2) {
      const id = heads[i], stored = heads[i + 1];
      if (id != null && stored != null) times.push(readySince(unpackPayload(id, queue, stored)));
    }
    const known = times.filter((at) => at !== null);
    return known.length > 0 ? Math.min(...known) : null;
  }

  /** One queue, or every queue that has metrics, by name. */
  private async queuesOf(queue: string | undefined): Promise<string[]> {
    return queue === undefined ? (await this.client.smembers(this.keys.metricQueues)).sort() : [queue];
  }
}

function hourOf(at: number): number {
  return at - (at % HOUR_MS);
}

/** A stored beat (see keys.ts): "<seq>:<beat at ms>:<expires at ms>:<the beat as JSON>". */
function decodeWorker(stored: string): WorkerInfo {
  const [stamps, beatAt, expiresAt] = /^\d+:(\d+):(\d+):/.exec(stored)!;
  return { ...(JSON.parse(stored.slice(stamps.length)) as WorkerBeat), beatAt: Number(beatAt), expiresAt: Number(expiresAt) };
}

/** One hour hash's fields, "<minute of the hour>:<field>" -> count, as a bucket per minute. */
function minuteBuckets(queue: string, hour: number, fields: Record<string, string>): MetricBucket[] {
  const byMinute = new Map<number, [string, string][]>();
  for (const [name, value] of Object.entries(fields)) {
    const split = name.indexOf(':');
    const minute = hour + Number(name.slice(0, split)) * MINUTE_MS;
    const counts = byMinute.get(minute) ?? [];
    counts.push([name.slice(split + 1), value]);
    byMinute.set(minute, counts);
  }
  return [...byMinute].map(([minute, counts]) => ({ queue, minute, counts: numbers(counts) }));
}

function numbers(counts: [string, string][]): Record<string, number> {
  return Object.fromEntries(counts.map(([name, value]) => [name, Number(value)]));
}

/** When a payload says its job became ready: null for one that is not an envelope. */
function readySince(payload: string): number | null {
  try {
    const { availableAt, createdAt } = JSON.parse(payload) as { availableAt?: unknown; createdAt?: unknown };
    const at = availableAt ?? createdAt;
    return typeof at === 'number' ? at : null;
  } catch {
    return null;
  }
}

function scoreOf(score: string | null): number | null {
  return score === null ? null : Number(score);
}

/** Code-unit order, as sort() puts the queue names. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
