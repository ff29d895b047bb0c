/**
 * Redis memory per waiting job (SPEC 17): our queue and BullMQ each store the same 100,000 waiting
 * jobs (payload {i, t}) under a fresh key prefix of their own, and we weigh what they stored.
 *
 * The figure is the sum of MEMORY USAGE (SAMPLES 0: every element counted, not an estimate) of
 * every key under the prefix, found by SCAN: exact, and blind to whatever else the shared Redis is
 * doing. INFO's used_memory delta over the same pushes is taken too and reported beside it; other
 * clients move it, so it is the noisier of the two. Each side first pushes one job under a
 * throwaway prefix, so loading its scripts is not counted against it.
 *
 * The keys are also grouped by what they hold (BullMQ's one hash per job as one group), for
 * docs/redis-memory.md.
 */
import { randomUUID } from 'node:crypto';
import { Queue as BullQueue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisKeys } from '../../../src/drivers/redis/keys.ts';
import { REDIS_URL } from '../../helpers/backends.ts';
import { BenchFailure, QUEUE, progress } from './common.ts';
import type { Sample } from './figures.ts';
import { openOurs, pushOurs } from './ours.ts';

/** One group of keys under a prefix: a key, or every BullMQ job hash. */
export interface KeyGroup {
  name: string;
  type: string;
  keys: number;
  /** Elements: list length, hash fields, zset or set members, stream entries. */
  entries: number;
  bytes: number;
}

export interface PrefixMemory {
  /** Sum of MEMORY USAGE SAMPLES 0 over every key. */
  bytes: number;
  groups: KeyGroup[];
}

export interface MemoryRun {
  side: 'ours' | 'bullmq';
  jobs: number;
  memory: PrefixMemory;
  /** INFO used_memory after the pushes minus before (bytes); moved by every other client too. */
  infoDelta: number;
  /** One stored job as it is kept: our packed envelope (and the payload it stands for), or BullMQ's job hash. */
  sample: unknown;
}

const SCAN_COUNT = 1_000;
const PIPELINE = 1_000;

export async function usedMemory(client: Redis): Promise<number> {
  const match = /^used_memory:(\d+)/m.exec(await client.info('memory'));
  if (!match) throw new BenchFailure('Redis INFO memory has no used_memory');
  return Number(match[1]);
}

/** Every key under `prefix:`, by SCAN. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (let cursor = '0'; ;) {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', SCAN_COUNT);
    keys.push(...batch);
    cursor = next;
    if (cursor === '0') return keys;
  }
}

/** Deletes every key under `prefix:` with UNLINK, so a hash of a million fields is freed off Redis's main thread. */
export async function unlinkPrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
}

const ENTRIES: Record<string, string> = { list: 'llen', hash: 'hlen', zset: 'zcard', set: 'scard', stream: 'xlen', string: 'strlen' };

/** MEMORY USAGE of every key under `prefix:`, grouped (BullMQ's per-job hashes, named by a number, as one group). */
export async function prefixMemory(client: Redis, prefix: string): Promise<PrefixMemory> {
  const keys = await keysUnder(client, prefix);
  const groups = new Map<string, KeyGroup>();
  for (let i = 0; i < keys.length; i += PIPELINE) {
    const slice = keys.slice(i, i + PIPELINE);
    const types = (await client.pipeline(slice.map((key) => ['type', key])).exec())!.map(([, type]) => String(type));
    const replies = await client.pipeline(slice.flatMap((key, k) => [
      ['memory', 'USAGE', key, 'SAMPLES', '0'],
      [ENTRIES[types[k]!] ?? 'exists', key],
    ])).exec();
    slice.forEach((key, k) => {
      const [usageError, usage] = replies![k * 2]!;
      if (usageError) throw new BenchFailure(`MEMORY USAGE ${key}: ${usageError.message}`);
      const name = `<prefix>${key.slice(prefix.length).replace(/:\d+$/, ':<job id>')}`;
      const group = groups.get(name) ?? { name, type: types[k]!, keys: 0, entries: 0, bytes: 0 };
      group.keys += 1;
      group.entries += Number(replies![k * 2 + 1]![1] ?? 0);
      group.bytes += Number(usage ?? 0);
      groups.set(name, group);
    });
  }
  const sorted = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
  return { bytes: sorted.reduce((sum, group) => sum + group.bytes, 0), groups: sorted };
}

/**
 * A short prefix of its own: BullMQ names a key per job with it, and its default ('bull') is 4
 * characters; a 6-character one ('m' and 5 hex digits) keeps each job's key name in the same
 * allocation size as BullMQ's default would (our keys are per queue, so their names weigh nothing
 * per job). Checked to hold no key yet.
 */
async function freshPrefix(client: Redis): Promise<string> {
  const prefix = `m${randomUUID().slice(0, 5)}`;
  if ((await keysUnder(client, prefix)).length > 0) throw new BenchFailure(`redis memory: the fresh prefix ${prefix} already holds keys`);
  return prefix;
}

/** `fill` stores the jobs under a fresh prefix; returns what that prefix weighs, and INFO's delta. */
async function weigh(side: MemoryRun['side'], jobs: number, warm: (prefix: string) => Promise<void>, fill: (prefix: string) => Promise<unknown>): Promise<MemoryRun> {
  const client = new Redis(REDIS_URL);
  const throwaway = await freshPrefix(client);
  const prefix = await freshPrefix(client);
  try {
    await warm(throwaway);
    await unlinkPrefix(client, throwaway);
    const before = await usedMemory(client);
    const sample = await fill(prefix);
    const infoDelta = (await usedMemory(client)) - before;
    return { side, jobs, memory: await prefixMemory(client, prefix), infoDelta, sample };
  } finally {
    await unlinkPrefix(client, throwaway);
    await unlinkPrefix(client, prefix);
    client.disconnect();
  }
}

/** Our queue: n Noops {i, t: 0} pushed with manager.push in bulks of 1,000. */
export function ourMemory(n: number): Promise<MemoryRun> {
  const push = async (prefix: string, count: number) => {
    const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
    const sampleClient = new Redis(REDIS_URL);
    try {
      const ids = await pushOurs(ours, count);
      const size = await ours.driver.size(QUEUE);
      if (size !== count) throw new BenchFailure(`redis memory, ours: pushed ${count} jobs but the queue holds ${size}`);
      // As the jobs hash keeps it (src/drivers/redis/packed.ts), and as the job's record gives it back.
      const stored = await sampleClient.hget(new RedisKeys(prefix).queue(QUEUE).jobs, ids[0]!);
      return { stored, payload: (await ours.driver.records.find(ids[0]!))?.payload };
    } finally {
      sampleClient.disconnect();
      await ours.close();
    }
  };
  return weigh('ours', n, (prefix) => push(prefix, 1).then(() => undefined), (prefix) => push(prefix, n));
}

function bullConnection() {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };
}

/** BullMQ: n jobs add('Noop', {i, t: 0}) with the default job options, through addBulk in bulks of 1,000 (the same keys per job as add()). */
export function bullMemory(n: number): Promise<MemoryRun> {
  const add = async (prefix: string, count: number) => {
    const queue = new BullQueue(QUEUE, { connection: bullConnection(), prefix });
    try {
      await queue.waitUntilReady();
      let first: string | undefined;
      for (let from = 0; from < count; from += 1_000) {
        const added = await queue.addBulk(Array.from({ length: Math.min(1_000, count - from) }, (_, k) => ({ name: 'Noop', data: { i: from + k, t: 0 } })));
        first ??= added[0]?.id;
      }
      const waiting = await queue.getWaitingCount();
      if (waiting !== count) throw new BenchFailure(`redis memory, BullMQ: added ${count} jobs but it counts ${waiting} waiting`);
      return first === undefined ? undefined : (await queue.client).hgetall(`${prefix}:${QUEUE}:${first}`);
    } finally {
      await queue.close();
    }
  };
  return weigh('bullmq', n, (prefix) => add(prefix, 1).then(() => undefined), (prefix) => add(prefix, n));
}

/**
 * One round of the comparison (who goes first alternates by round): `redis.memoryPerJob` (MB, ours
 * and BullMQ as the peer) and `redis.memoryRatio` (ours / BullMQ, %).
 */
export async function memoryRound(jobs: number, round: number, report: (key: string, side: 'ours' | 'peer', sample: Sample) => void): Promise<void> {
  const first = round % 2 === 0 ? await ourMemory(jobs) : undefined;
  const bull = await bullMemory(jobs);
  const ours = first ?? await ourMemory(jobs);
  for (const [side, run] of [['ours', ours], ['peer', bull]] as const) {
    const detail = `${(run.memory.bytes / run.jobs).toFixed(1)} B per job by MEMORY USAGE; INFO used_memory delta ${(run.infoDelta / run.jobs).toFixed(1)} B per job`;
    report('redis.memoryPerJob', side, { value: run.memory.bytes / 1024 / 1024, detail, raw: { bytes: run.memory.bytes, infoDelta: run.infoDelta, groups: run.memory.groups, sample: run.sample } });
    progress(`round ${round + 1}: redis.memoryPerJob ${run.side} = ${detail}:\n  ${describeGroups(run).join('\n  ')}`);
  }
  const detail = `${(ours.memory.bytes / ours.jobs).toFixed(1)} B / ${(bull.memory.bytes / bull.jobs).toFixed(1)} B per job`;
  report('redis.memoryRatio', 'ours', { value: (ours.memory.bytes / bull.memory.bytes) * 100, detail });
}

/** The groups as lines: "name (type, keys, entries): bytes, bytes per job". */
export function describeGroups(run: MemoryRun): string[] {
  return run.memory.groups.map((g) => `${g.name} (${g.type}${g.keys > 1 ? ` x${g.keys}` : ''}, ${g.entries.toLocaleString('en-US')} entries): ${g.bytes.toLocaleString('en-US')} B, ${(g.bytes / run.jobs).toFixed(1)} B/job`);
}
