/**
 * Part 1: our Redis driver and BullMQ 5 on the same Redis, each measurement under a fresh key
 * prefix that is deleted afterwards. Both sides implement one interface, so the rounds, the order
 * and the checks are the same for both.
 */
import { randomUUID } from 'node:crypto';
import { Queue as BullQueue, Worker as BullWorker, type Job as BullJob } from 'bullmq';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/backends.ts';
import { stopReason } from '../../../src/worker/stop.ts';
import { setRunHook } from '../project/sink.ts';
import { BenchFailure, QUEUE, RETENTION, elapsedSince, verifyExactlyOnce } from './common.ts';
import { Pickups, sampleLatency, type LatencyPlan } from './latency.ts';
import { drainOurs, expectEmpty, newWorker, openOurs, pushOurs, runWorker, workerOptions, type Ours } from './ours.ts';

export interface RedisContender {
  readonly name: 'ours' | 'bullmq';
  /** n sequential awaited single pushes; returns ms. */
  dispatchOne(n: number): Promise<number>;
  /** n jobs in bulk calls of `chunk`, one call at a time; returns ms. */
  dispatchBulk(n: number, chunk: number): Promise<number>;
  /** Pre-loads n jobs, then times one in-process worker draining them; returns ms. */
  process(n: number, concurrency: number): Promise<number>;
  /** Pick-up latencies (ms) of an idle worker at concurrency 1. */
  latency(plan: LatencyPlan): Promise<number[]>;
}

const BULK_CHUNK = 1_000;

function freshPrefix(side: string): string {
  return `bench-${side}-${randomUUID().slice(0, 8)}`;
}

// ---- ours ----

/** Ours on a fresh prefix of the bench's Redis, connected before `work`; the prefix is deleted after. */
export async function withOurs<T>(work: (ours: Ours) => Promise<T>): Promise<T> {
  const prefix = freshPrefix('ours');
  const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
  try {
    await ours.driver.size(QUEUE); // connected before any timing starts
    return await work(ours);
  } finally {
    await ours.close();
    await deleteRedisPrefix(prefix);
  }
}

async function expectWaiting(label: string, waiting: number, n: number): Promise<void> {
  if (waiting !== n) throw new BenchFailure(`${label}: pushed ${n} jobs but the queue holds ${waiting}`);
}

export const ourRedis: RedisContender = {
  name: 'ours',
  dispatchOne: (n) => withOurs(async (ours) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) await ours.manager.push([ours.job(i)]);
    const ms = elapsedSince(start);
    await expectWaiting('ours: dispatch one at a time', await ours.driver.size(QUEUE), n);
    return ms;
  }),
  dispatchBulk: (n, chunk) => withOurs(async (ours) => {
    const start = performance.now();
    await pushOurs(ours, n, chunk);
    const ms = elapsedSince(start);
    await expectWaiting('ours: bulk dispatch', await ours.driver.size(QUEUE), n);
    return ms;
  }),
  process: (n, concurrency) => withOurs(async (ours) => {
    const pushed = await pushOurs(ours, n, BULK_CHUNK);
    return drainOurs(ours, `ours: redis processing c=${concurrency}`, pushed, concurrency);
  }),
  latency: (plan) => withOurs(async (ours) => {
    const pickups = new Pickups();
    setRunHook(pickups.record);
    // An idle worker as `queue work` runs it: the default 3 s sleep, so it blocks on its notify list.
    const worker = await newWorker(ours, workerOptions(1, { sleep: 3, stopWhenEmpty: false }));
    const running = runWorker(worker);
    try {
      return await sampleLatency('ours: pick-up latency', pickups, plan, async (t, i) => (await ours.manager.push([ours.job(i, t)]))[0]!.id);
    } finally {
      worker.stop(stopReason('signal', 'bench done'));
      await running;
      setRunHook(undefined);
      await expectEmpty(ours, 'ours: pick-up latency');
    }
  }),
};

// ---- BullMQ ----

interface NoopData {
  i: number;
  t: number;
}

const BULL_QUEUE = 'bench';

function bullConnection() {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };
}

interface Bull {
  prefix: string;
  queue: BullQueue<NoopData>;
}

async function withBull<T>(work: (bull: Bull) => Promise<T>): Promise<T> {
  const prefix = freshPrefix('bullmq');
  // The same end state as ours: finished jobs deleted (--keep none), or kept an hour and 1,000 at most.
  const removeOnComplete = RETENTION.keep === 'none' ? true : { age: 3_600, count: 1_000 };
  const queue = new BullQueue<NoopData>(BULL_QUEUE, { connection: bullConnection(), prefix, defaultJobOptions: { removeOnComplete } });
  try {
    await queue.waitUntilReady();
    return await work({ prefix, queue });
  } finally {
    await queue.close();
    await deleteRedisPrefix(prefix);
  }
}

async function addBulk(queue: BullQueue<NoopData>, n: number, chunk: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += chunk) {
    const jobs = Array.from({ length: Math.min(chunk, n - start) }, (_, k) => ({ name: 'Noop', data: { i: start + k, t: 0 } }));
    for (const job of await queue.addBulk(jobs)) ids.push(job.id!);
  }
  return ids;
}

function bullWorker(bull: Bull, concurrency: number, processor: (job: BullJob<NoopData>) => Promise<void>, autorun: boolean): BullWorker<NoopData> {
  return new BullWorker<NoopData>(BULL_QUEUE, processor, { connection: bullConnection(), prefix: bull.prefix, concurrency, autorun });
}

async function expectBullDrained(label: string, queue: BullQueue<NoopData>): Promise<void> {
  const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized', 'paused');
  const left = Object.entries(counts).filter(([, count]) => count > 0);
  if (left.length) throw new BenchFailure(`${label}: after the run BullMQ still counts ${left.map(([state, count]) => `${count} ${state}`).join(', ')}`);
}

export const bullmq: RedisContender = {
  name: 'bullmq',
  dispatchOne: (n) => withBull(async ({ queue }) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) await queue.add('Noop', { i, t: 0 });
    const ms = elapsedSince(start);
    await expectWaiting('bullmq: dispatch one at a time', await queue.getWaitingCount(), n);
    return ms;
  }),
  dispatchBulk: (n, chunk) => withBull(async ({ queue }) => {
    const start = performance.now();
    await addBulk(queue, n, chunk);
    const ms = elapsedSince(start);
    await expectWaiting('bullmq: bulk dispatch', await queue.getWaitingCount(), n);
    return ms;
  }),
  process: (n, concurrency) => withBull(async (bull) => {
    const label = `bullmq: processing c=${concurrency}`;
    const pushed = await addBulk(bull.queue, n, BULK_CHUNK);
    const ran: string[] = [];
    let completed = 0;
    let finish: (error?: Error) => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      finish = (error) => (error ? reject(error) : resolve());
    });
    const worker = bullWorker(bull, concurrency, async (job) => {
      ran.push(job.id!);
    }, false);
    worker.on('completed', () => {
      if (++completed === n) finish();
    });
    worker.on('failed', (job, error) => finish(new BenchFailure(`${label}: job ${job?.id} failed: ${error.message}`)));
    worker.on('error', (error) => finish(new BenchFailure(`${label}: worker error: ${error.message}`)));
    try {
      await worker.waitUntilReady();
      const start = performance.now();
      void worker.run();
      const timer = setTimeout(() => finish(new BenchFailure(`${label}: ${completed} of ${n} completed after 10 minutes`)), 600_000);
      await done.finally(() => clearTimeout(timer));
      const ms = elapsedSince(start);
      await worker.close();
      verifyExactlyOnce(label, pushed, ran);
      await expectBullDrained(label, bull.queue);
      return ms;
    } finally {
      await worker.close();
    }
  }),
  latency: (plan) => withBull(async (bull) => {
    const pickups = new Pickups();
    const worker = bullWorker(bull, 1, async (job) => pickups.record(job.id!, job.data.t), true);
    try {
      await worker.waitUntilReady();
      return await sampleLatency('bullmq: pick-up latency', pickups, plan, async (t, i) => (await bull.queue.add('Noop', { i, t })).id!);
    } finally {
      await worker.close();
      await expectBullDrained('bullmq: pick-up latency', bull.queue);
    }
  }),
};
