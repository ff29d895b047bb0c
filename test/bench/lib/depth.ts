/**
 * Depth (SPEC 17): claim throughput with 1,000,000 jobs waiting and 1,000,000 completed records
 * kept, against the same drain on an empty queue, on every backend.
 *
 * Per backend the deep queue is loaded once (depth-load.ts), then each round drains `drain` of its
 * waiting jobs with one in-process Worker at c=50 that stops after exactly that many (maxJobs: its
 * budget never lets it take more), and drains a fresh queue holding only `drain` jobs the same way;
 * which of the two goes first alternates by round. Both keep every record (keep 1 day, 10,000,000
 * per queue): the default retention (1,000 per queue) would trim the loaded records away during the
 * drain, and the empty queue must pay for the records it makes as the deep one does.
 *
 * Every drain is checked: exactly `drain` runs, no job twice (across rounds too), each one a job of
 * that queue's waiting set, and after it the driver counts `drain` fewer ready jobs, `drain` more
 * completed records, nothing reserved and nothing failed. The loaded tables or keys are dropped at
 * the end. On Redis the memory of the loaded prefix is weighed too; the part also compares our
 * memory per waiting job with BullMQ's (redisMemory.ts).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Keeping, QueueStats } from '../../../src/contract/driver.ts';
import type { Keep } from '../../../src/jobs/settings.ts';
import { REDIS_URL } from '../../helpers/backends.ts';
import { setRunHook } from '../project/sink.ts';
import { BenchFailure, QUEUE, elapsedSince, progress } from './common.ts';
import { benchStats, loadRedis, loadSql, type Depth, type Loaded } from './depth-load.ts';
import type { Sample } from './figures.ts';
import { newWorker, openOurs, pushOurs, runWorker, workerOptions, type Ours } from './ours.ts';
import { memoryRound, prefixMemory, unlinkPrefix, usedMemory } from './redisMemory.ts';
import { withLoadedTables, type SqlBackend } from './sql.ts';

export type DepthBackend = SqlBackend | 'redis';
export const DEPTH_BACKENDS: readonly DepthBackend[] = ['sqlite', 'mariadb', 'postgres', 'redis'];

/** Keep every record of the run: a day, and the most a connection may keep per queue. */
export const DEPTH_KEEP: Keep = { completed: '1d', count: 10_000_000 };
const DEPTH_KEEPING: Keeping = { keepMs: 86_400_000, maxPerQueue: 10_000_000 };
export const DEPTH_CONCURRENCY = 50;

export interface DepthPlan extends Depth {
  /** Jobs each timed drain runs. */
  drain: number;
  rounds: number;
  /** Jobs of an untimed first drain on an empty queue, per backend. */
  warmup: number;
}

/** Where the samples go: `depth.<backend>` (ours: deep, peer: empty) and `depth.redisMemory`. */
export type Report = (key: string, side: 'ours' | 'peer', sample: Sample) => void;

const count = (n: number) => n.toLocaleString('en-US');

/**
 * One worker at c=50 that runs exactly `n` of the bench queue's jobs; fails unless they were n
 * different jobs `expected` allows, none in `seen` (then added to it), and the driver's counts moved
 * by exactly n from `before` (read now when not given: counting 2M rows takes MariaDB seconds, so a
 * deep drain starts from the last one's). Returns ms, from run() to its return, and the counts after.
 */
async function drain(ours: Ours, label: string, n: number, expected: (id: string) => boolean, seen: Set<string>, given?: QueueStats): Promise<{ ms: number; after: QueueStats }> {
  const before = given ?? await benchStats(ours.driver);
  const ran: string[] = [];
  setRunHook((id) => ran.push(id));
  let ms: number;
  try {
    const worker = await newWorker(ours, workerOptions(DEPTH_CONCURRENCY, { keep: DEPTH_KEEP, maxJobs: n }));
    const start = performance.now();
    const reason = await runWorker(worker);
    ms = elapsedSince(start);
    if (reason.code !== 'max-jobs' && reason.code !== 'empty') throw new BenchFailure(`${label}: the worker stopped with '${reason.code}' (${reason.message})`);
  } finally {
    setRunHook(undefined);
  }
  const repeated = ran.filter((id) => seen.has(id) || !seen.add(id));
  const unexpected = ran.filter((id) => !expected(id));
  if (ran.length !== n || repeated.length || unexpected.length) {
    throw new BenchFailure(`${label}: ${ran.length} runs for ${n} jobs; ${repeated.length} ran twice (${repeated.slice(0, 3).join(', ')}), ${unexpected.length} not of the queue's waiting jobs (${unexpected.slice(0, 3).join(', ')})`);
  }
  const after = await benchStats(ours.driver);
  const want = { ready: before.ready - n, delayed: 0, reserved: 0, failed: 0, completed: before.completed + n, cancelled: 0 };
  const wrong = Object.entries(want).filter(([state, value]) => after[state as keyof typeof want] !== value);
  if (wrong.length) throw new BenchFailure(`${label}: every job ran once, but the driver counts ${JSON.stringify(after)} afterwards; expected ${JSON.stringify(want)}`);
  return { ms, after };
}

function jobsSample(n: number, ms: number, detail: string): Sample {
  return { value: Math.round((n / ms) * 1000), detail: `${count(n)} jobs in ${count(Math.round(ms))} ms; ${detail}`, raw: { n, ms: Math.round(ms * 10) / 10 } };
}

/** A fresh queue with n jobs pushed (and nothing else), on the same kind of backend; dropped afterwards. */
function withEmptyQueue<T>(backend: DepthBackend, n: number, work: (ours: Ours, pushed: string[]) => Promise<T>): Promise<T> {
  if (backend !== 'redis') return withLoadedTables(backend, n, (ours, pushed) => work(ours, pushed));
  return withRedisPrefix('empty', async (ours) => work(ours, await pushOurs(ours, n)));
}

async function withRedisPrefix<T>(what: string, work: (ours: Ours, prefix: string) => Promise<T>): Promise<T> {
  const prefix = `bench-depth-${what}-${randomUUID().slice(0, 8)}`;
  const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
  try {
    return await work(ours, prefix);
  } finally {
    await ours.close();
    const client = new Redis(REDIS_URL);
    await unlinkPrefix(client, prefix).finally(() => client.disconnect());
  }
}

/** The deep queue, loaded, for `work`; dropped afterwards. */
function withDeepQueue<T>(backend: DepthBackend, plan: DepthPlan, report: Report, work: (ours: Ours, loaded: Loaded) => Promise<T>): Promise<T> {
  if (backend !== 'redis') {
    return withLoadedTables(backend, 0, async (ours, _pushed, setup) => work(ours, await loadSql(ours, setup.config, plan, DEPTH_KEEP)));
  }
  return withRedisPrefix('deep', async (ours, prefix) => {
    const client = new Redis(REDIS_URL);
    try {
      const before = await usedMemory(client);
      const loaded = await loadRedis(ours, plan, DEPTH_KEEPING);
      const infoDelta = (await usedMemory(client)) - before;
      const memory = await prefixMemory(client, prefix);
      const of = (names: string[]) => memory.groups.filter((g) => names.some((name) => g.name.endsWith(`:${name}`))).reduce((sum, g) => sum + g.bytes, 0);
      const perWaiting = of(['ready', 'jobs']) / plan.waiting;
      const perRecord = of(['done', 'completed', 'expires']) / plan.records;
      const detail = `MEMORY USAGE of every key ${count(memory.bytes)} B; INFO used_memory delta ${count(infoDelta)} B; ` +
        `${(memory.bytes / (plan.waiting + plan.records)).toFixed(0)} B per stored job: ${perWaiting.toFixed(0)} B per waiting job (ready + jobs), ${perRecord.toFixed(0)} B per completed record (done + completed + expires)`;
      report('depth.redisMemory', 'ours', { value: memory.bytes / 1024 / 1024, detail, raw: { bytes: memory.bytes, infoDelta, perWaiting, perRecord, groups: memory.groups } });
      progress(`depth redis: ${detail}`);
      return await work(ours, loaded);
    } finally {
      client.disconnect();
    }
  });
}

/**
 * The depth part: Redis memory per waiting job, ours and BullMQ, in every round (redisMemory.ts);
 * then each backend's deep queue, loaded once for all the rounds.
 */
export async function depthPart(sizes: Depth & { drain: number; warmup: number; memoryJobs: number }, rounds: number, report: Report): Promise<void> {
  for (let round = 0; round < rounds; round++) await memoryRound(sizes.memoryJobs, round, report);
  for (const backend of DEPTH_BACKENDS) await depthRuns(backend, { ...sizes, rounds }, report);
}

/** The depth figure of one backend: loads, runs every round, drops everything. */
export async function depthRuns(backend: DepthBackend, plan: DepthPlan, report: Report): Promise<void> {
  if (plan.drain * plan.rounds > plan.waiting) throw new BenchFailure(`depth: ${plan.rounds} drains of ${plan.drain} need more than the ${plan.waiting} jobs loaded`);
  const emptyDrain = (label: string, n: number) => withEmptyQueue(backend, n, async (ours, pushed) => {
    const set = new Set(pushed);
    return (await drain(ours, label, n, (id) => set.has(id), new Set())).ms;
  });
  progress(`depth ${backend}: warm-up drain of ${count(plan.warmup)} jobs on an empty queue`);
  await emptyDrain(`depth ${backend}: warm-up`, plan.warmup);
  await withDeepQueue(backend, plan, report, async (ours, loaded) => {
    const seen = new Set<string>();
    let stats = loaded.stats;
    for (let round = 0; round < plan.rounds; round++) {
      const deep = async () => {
        const { ms, after } = await drain(ours, `depth ${backend}: deep drain`, plan.drain, loaded.isWaiting, seen, stats);
        stats = after;
        const sample = jobsSample(plan.drain, ms, `${count(plan.waiting - round * plan.drain)} waiting before, ${count(plan.records + round * plan.drain)} completed kept`);
        report(`depth.${backend}`, 'ours', sample);
        progress(`round ${round + 1}: depth.${backend} deep = ${sample.value} jobs/s (${sample.detail})`);
      };
      const empty = async () => {
        const ms = await emptyDrain(`depth ${backend}: empty-queue drain`, plan.drain);
        const sample = jobsSample(plan.drain, ms, 'a fresh queue holding only these jobs');
        report(`depth.${backend}`, 'peer', sample);
        progress(`round ${round + 1}: depth.${backend} empty = ${sample.value} jobs/s (${sample.detail})`);
      };
      // Alternate who goes first, so neither always runs on a warmer (or busier) machine.
      for (const run of round % 2 === 0 ? [deep, empty] : [empty, deep]) await run();
    }
  });
}
