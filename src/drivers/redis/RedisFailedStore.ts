/**
 * Failed jobs of the redis driver: per queue, a hash of records and a sorted set by failure time
 * (newest first by ZREVRANGE; one record by HGET). Listing across queues merges the queues named in
 * `<prefix>:queues`.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { failedJobNotFound } from '../../errors.ts';
import { encodeEnvelope, withFreshTries } from '../../jobs/envelope.ts';
import { timeoutMsOf } from '../../jobs/settings.ts';
import type { FailedJob, FailedStore, Failure } from '../../contract/driver.ts';
import { keyList, type RedisKeys } from './keys.ts';
import { packPayload } from './packed.ts';
import { RETRY_KEYS } from './script-keys.ts';
import { runScript } from './scripts.ts';

type Call = <T>(what: string, work: () => Promise<T>) => Promise<T>;

/** A record as stored in the failed hash: a FailedJob but for its id (the hash field) and failedAt (the zset score). */
type StoredRecord = Omit<FailedJob, 'id' | 'failedAt'>;

export class RedisFailedStore implements FailedStore {
  constructor(
    private readonly connection: string,
    private readonly keys: RedisKeys,
    private readonly client: Redis | Cluster,
    private readonly call: Call,
  ) {}

  private queues(queue?: string): Promise<string[]> {
    if (queue !== undefined) return Promise.resolve([queue]);
    return this.call('list queues', async () => (await this.client.smembers(this.keys.queues)).sort());
  }

  /** The JSON fail.lua stores for a failure of a job of `queue`. */
  encodeRecord(queue: string, failure: Failure): string {
    const record: StoredRecord = { connection: this.connection, queue, job: failure.job, payload: failure.payload, error: failure.error };
    return JSON.stringify(record);
  }

  /** The newest `limit` records of one queue. */
  private async newest(queue: string, limit: number): Promise<FailedJob[]> {
    const k = this.keys.queue(queue);
    const scored = await this.client.zrevrange(k.failedAt, 0, limit - 1, 'WITHSCORES');
    if (scored.length === 0) return [];
    const ids = scored.filter((_, i) => i % 2 === 0);
    const records = await this.client.hmget(k.failed, ...ids);
    return ids.flatMap((id, i) => (records[i] ? [this.toFailedJob(id, records[i]!, Number(scored[i * 2 + 1]))] : []));
  }

  private toFailedJob(id: string, json: string, failedAt: number): FailedJob {
    const record = JSON.parse(json) as StoredRecord;
    return { ...record, id, connection: record.connection ?? this.connection, failedAt };
  }

  async list({ queue, limit }: { queue?: string; limit?: number } = {}): Promise<FailedJob[]> {
    const max = limit ?? Number.MAX_SAFE_INTEGER;
    const queues = await this.queues(queue);
    const perQueue = await this.call('list failed jobs', () => Promise.all(queues.map((q) => this.newest(q, Math.min(max, 1_000_000)))));
    return perQueue.flat().sort((a, b) => b.failedAt - a.failedAt || a.id.localeCompare(b.id)).slice(0, max);
  }

  /** The queue a record is on, found by HEXISTS on each known queue (one round trip, pipelined). */
  private async locate(id: string): Promise<{ queue: string; record: FailedJob } | undefined> {
    for (const queue of await this.queues()) {
      const k = this.keys.queue(queue);
      const [json, score] = await this.call('find a failed job', () => Promise.all([this.client.hget(k.failed, id), this.client.zscore(k.failedAt, id)]));
      if (json) return { queue, record: this.toFailedJob(id, json, Number(score)) };
    }
    return undefined;
  }

  async find(id: string): Promise<FailedJob | undefined> {
    return (await this.locate(id))?.record;
  }

  async forget(id: string): Promise<boolean> {
    const found = await this.locate(id);
    if (!found) return false;
    const k = this.keys.queue(found.queue);
    const [[, removed]] = (await this.call('forget a failed job', () => this.client.multi().hdel(k.failed, id).zrem(k.failedAt, id).exec())) as [[unknown, number]];
    return removed === 1;
  }

  async flush({ olderThanMs }: { olderThanMs?: number } = {}): Promise<number> {
    let deleted = 0;
    for (const queue of await this.queues()) {
      const k = this.keys.queue(queue);
      deleted += await this.call('delete failed jobs', () => runScript<number>(this.client, 'flush', [k.failed, k.failedAt, k.once(randomUUID())], [olderThanMs === undefined ? 'all' : Math.round(olderThanMs)]));
    }
    return deleted;
  }

  async retry(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    const found = await Promise.all(unique.map((id) => this.locate(id)));
    const missing = unique.filter((_, i) => !found[i]);
    if (missing.length > 0) throw failedJobNotFound(missing);
    return this.moveBack(found.map((f) => f!.record));
  }

  async retryAll({ queue }: { queue?: string } = {}): Promise<string[]> {
    const records = await this.list({ queue });
    return this.moveBack(records.reverse());
  }

  /** One script per queue: each queue's records go back together or not at all. */
  private async moveBack(records: FailedJob[]): Promise<string[]> {
    const byQueue = new Map<string, { record: FailedJob; args: (string | number)[] }[]>();
    for (const record of records) {
      const envelope = withFreshTries(record.payload, record.id);
      // The envelope's copy of the priority: the job's own went with it when it failed.
      const args = [record.id, envelope.id, packPayload(envelope.id, record.queue, encodeEnvelope(envelope)), timeoutMsOf(envelope) ?? '', envelope.priority ?? ''];
      byQueue.set(record.queue, [...(byQueue.get(record.queue) ?? []), { record, args }]);
    }
    const moved: string[] = [];
    for (const [queue, items] of byQueue) {
      const k = this.keys.queue(queue);
      await this.call('retry failed jobs', async () => {
        await this.client.sadd(this.keys.queues, queue);
        await runScript(this.client, 'retry', [...keyList(k, RETRY_KEYS), k.once(randomUUID())], items.flatMap((item) => item.args));
      });
      moved.push(...items.map((item) => item.record.id));
    }
    return moved;
  }
}
