/**
 * Part `pgpeers` (SPEC 17): our queue on PostgreSQL against graphile-worker (its defaults, and with
 * its local queue and batched completion) and pg-boss, in the same run on the same server. The peers
 * need Node 22 (node22.ts), so each of their measurements is one child process running
 * peers/graphile.mjs or peers/pgboss.mjs in a fresh schema of its own, dropped afterwards; ours runs
 * in this process on fresh tables (sql.ts), with the in-process Worker (with --prefetch against
 * graphile-worker's batched mode, see PREFETCH).
 *
 * Each round measures each figure once per contender, the order turned by one each round so no one
 * always runs first; our sample goes into every peer's row of that figure. Every run is checked:
 * each pushed job ran exactly once (by id) and the queue holds nothing unfinished afterwards.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { POSTGRES_URL } from '../../helpers/backends.ts';
import { stopReason } from '../../../src/worker/stop.ts';
import { setRunHook } from '../project/sink.ts';
import { BENCH_DIR, BenchFailure, QUEUE, REPO_DIR, delay, percentile, progress, throughput, verifyExactlyOnce } from './common.ts';
import type { Goal, Sample, Side, Unit } from './figures.ts';
import { Pickups } from './latency.ts';
import { node22 } from './node22.ts';
import { expectEmpty, newWorker, openOurs, pushOurs, runWorker, workerOptions } from './ours.ts';
import { sqlInProcess, withLoadedTables } from './sql.ts';

export interface PgPeersSizes {
  /** Jobs preloaded for the smaller processing runs (5,000 at scale 1) and the larger (20,000). */
  small: number;
  large: number;
  /** Jobs of the bulk dispatch, in calls of `chunk`. */
  bulk: number;
  chunk: number;
  /** Pick-up latency: samples after `warmup` jobs, each pushed a random gapMs after the last started. */
  latency: { samples: number; warmup: number; gapMs: [number, number] };
}

interface Peer {
  key: 'graphile' | 'graphileBatched' | 'pgboss';
  name: string;
  script: string;
  /** Its schemas are named <prefix>_<random>. */
  prefix: string;
  /** The child's mode for a processing run at this concurrency (see the scripts' headers). */
  mode(concurrency: number): string;
}

const PEERS: Peer[] = [
  { key: 'graphile', name: 'graphile-worker', script: 'graphile.mjs', prefix: 'gw', mode: () => 'default' },
  { key: 'graphileBatched', name: 'graphile-worker batched', script: 'graphile.mjs', prefix: 'gw', mode: () => 'batched' },
  { key: 'pgboss', name: 'pg-boss', script: 'pgboss.mjs', prefix: 'pgboss', mode: (concurrency) => (concurrency === 1 ? 'one' : 'batch') },
];
/** A peer by its key (graphile, graphileBatched, pgboss). */
export function peerNamed(key: string): Peer {
  const peer = PEERS.find((p) => p.key === key);
  if (!peer) throw new BenchFailure(`no PostgreSQL peer named ${key}`);
  return peer;
}

/** Bulk dispatch and pick-up do not depend on graphile-worker's batching: its default stands for it. */
const UNBATCHED = PEERS.filter((peer) => peer.key !== 'graphileBatched');

/**
 * Against graphile-worker's batched mode (a local queue of 500 jobs, completions in batches) ours
 * runs with the same trade, `--prefetch 500`: jobs started ahead in turns of many. Against the
 * others, and for the figures of ours alone, with its defaults.
 */
export const PREFETCH = 500;
const prefetches = (peer: Peer) => peer.key === 'graphileBatched';

type Measure =
  | { key: string; kind: 'process'; n: number; concurrency: number; what: string }
  | { key: string; kind: 'bulk'; what: string }
  | { key: string; kind: 'latency'; what: string };

const count = (n: number) => n.toLocaleString('en-US');

function measures(sizes: PgPeersSizes): Measure[] {
  const processing = (key: string, n: number, concurrency: number): Measure => ({ key, kind: 'process', n, concurrency, what: `one worker c=${concurrency}, ${count(n)} jobs preloaded` });
  return [
    processing('c1_5k', sizes.small, 1),
    processing('c1_20k', sizes.large, 1),
    processing('c50_5k', sizes.small, 50),
    processing('c50_20k', sizes.large, 50),
    { key: 'bulk', kind: 'bulk', what: `bulk dispatch, ${count(sizes.bulk)} jobs, ${count(sizes.chunk)} per call` },
    { key: 'p50', kind: 'latency', what: `pick-up latency p50 of an idle worker, ${sizes.latency.samples} samples (lower is better)` },
  ];
}

function peersOf(measure: Measure): Peer[] {
  return measure.kind === 'process' ? PEERS : UNBATCHED;
}

export interface FigureSpec {
  key: string;
  label: string;
  unit: Unit;
  goal?: Goal;
  peerName: string;
}

/** The part's rows, in table order: one per (measure, peer), then whether we slow down with depth. */
export function pgpeersFigures(sizes: PgPeersSizes): FigureSpec[] {
  const specs: FigureSpec[] = [];
  for (const measure of measures(sizes)) {
    for (const peer of peersOf(measure)) {
      const latency = measure.kind === 'latency';
      specs.push({
        key: `pg.${measure.key}.${peer.key}`,
        label: `PostgreSQL${prefetches(peer) ? ` with --prefetch ${PREFETCH}` : ''} vs ${peer.name}: ${measure.what}`,
        unit: latency ? 'ms' : 'jobs/s',
        goal: latency ? undefined : { kind: 'ratio-min', value: 1 },
        peerName: peer.name,
      });
    }
  }
  for (const concurrency of [1, 50]) {
    specs.push({
      key: `pg.c${concurrency}.depth`,
      label: `PostgreSQL: ours c=${concurrency} at ${count(sizes.large)} jobs preloaded vs at ${count(sizes.small)} (no slowdown)`,
      unit: 'jobs/s',
      goal: { kind: 'ratio-min', value: 0.9 },
      peerName: `ours at ${count(sizes.small)} jobs`,
    });
  }
  return specs;
}

// ---- ours ----

export async function oursBulk(n: number, chunk: number): Promise<number> {
  return withLoadedTables('postgres', 0, async (ours) => {
    const start = performance.now();
    const ids = await pushOurs(ours, n, chunk);
    const ms = performance.now() - start;
    const stored = await ours.driver.size(QUEUE);
    if (new Set(ids).size !== n || stored !== n) throw new BenchFailure(`ours: bulk dispatch pushed ${n} jobs, got ${new Set(ids).size} distinct ids, the queue holds ${stored}`);
    return ms;
  });
}

/**
 * An idle in-process Worker as `queue work` runs it (default --sleep 3, so it waits on LISTEN/NOTIFY),
 * and jobs pushed one at a time through a second manager on the same tables: a push through the
 * worker's own driver would wake it without the database, which the peers' separate producers cannot.
 */
async function oursLatency(plan: PgPeersSizes['latency']): Promise<number[]> {
  return withLoadedTables('postgres', 0, async (ours, _pushed, setup) => {
    const label = 'ours: pick-up latency';
    const producer = await openOurs(setup.config);
    const pickups = new Pickups();
    setRunHook(pickups.record);
    const worker = await newWorker(ours, workerOptions(1, { sleep: 3, stopWhenEmpty: false }));
    const running = runWorker(worker);
    try {
      const pushed: string[] = [];
      const latencies: number[] = [];
      for (let i = 0; i < plan.warmup + plan.samples; i++) {
        await delay(plan.gapMs[0] + Math.random() * (plan.gapMs[1] - plan.gapMs[0]));
        const [stored] = await producer.manager.push([producer.job(i, performance.now())]);
        pushed.push(stored!.id);
        const ms = await pickups.of(stored!.id);
        if (i >= plan.warmup) latencies.push(ms);
      }
      verifyExactlyOnce(label, pushed, pickups.ran);
      return latencies;
    } finally {
      worker.stop(stopReason('signal', 'bench done'));
      await running;
      setRunHook(undefined);
      await producer.close();
      await expectEmpty(ours, label);
    }
  });
}

// ---- the peers, each run a child under Node 22 in a schema of its own ----

interface PeerResult {
  ms?: number;
  pushed?: string[];
  ran?: string[];
  stored?: number;
  completed?: number;
  latencies?: number[];
}

const CHILD_TIMEOUT_MS = 10 * 60_000;

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs one peer measurement in a fresh schema, which exists only for it and is dropped after. */
async function runPeer(peer: Peer, label: string, params: Record<string, unknown>): Promise<PeerResult> {
  const schema = `${peer.prefix}_${randomBytes(5).toString('hex')}`;
  const taken = await withClient((client) => client.query('select 1 from pg_namespace where nspname = $1', [schema]));
  if (taken.rowCount) throw new BenchFailure(`${label}: schema ${schema} already exists (not ours: left alone)`);
  try {
    return await runChild(peer, label, { ...params, url: POSTGRES_URL, schema });
  } finally {
    await withClient((client) => client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`));
  }
}

function runChild(peer: Peer, label: string, params: Record<string, unknown>): Promise<PeerResult> {
  const script = path.join(BENCH_DIR, 'peers', peer.script);
  // NO_LOG_SUCCESS: graphile-worker formats a "Completed task" line per job unless it is set.
  const child = spawn(node22().path, [script, JSON.stringify(params)], { env: { ...process.env, NO_LOG_SUCCESS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (error) => reject(new BenchFailure(`${label}: cannot start Node 22: ${error.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) return resolve(JSON.parse(line.slice('RESULT '.length)) as PeerResult);
      const why = signal === 'SIGKILL' ? `killed after ${CHILD_TIMEOUT_MS / 60_000} minutes` : `exited ${code ?? signal}`;
      reject(new BenchFailure(`${label}: the child ${why}:\n${stderr.trim().split('\n').slice(-8).join('\n')}`));
    });
  });
}

export async function peerProcess(peer: Peer, label: string, n: number, concurrency: number): Promise<number> {
  const result = await runPeer(peer, label, { op: 'process', n, concurrency, mode: peer.mode(concurrency) });
  if (result.pushed?.length !== n) throw new BenchFailure(`${label}: preloaded ${result.pushed?.length} jobs, not ${n}`);
  verifyExactlyOnce(label, result.pushed, result.ran ?? []);
  if (result.completed !== undefined && result.completed !== n) throw new BenchFailure(`${label}: ${result.completed} of ${n} jobs recorded as completed`);
  return result.ms!;
}

export async function peerBulk(peer: Peer, label: string, n: number, chunk: number): Promise<number> {
  const result = await runPeer(peer, label, { op: 'bulk', n, chunk });
  if (result.stored !== n) throw new BenchFailure(`${label}: dispatched ${n} jobs, the queue holds ${result.stored}`);
  if (result.pushed && new Set(result.pushed).size !== n) throw new BenchFailure(`${label}: ${new Set(result.pushed).size} distinct ids for ${n} jobs`);
  return result.ms!;
}

async function peerLatency(peer: Peer, label: string, plan: PgPeersSizes['latency']): Promise<number[]> {
  const result = await runPeer(peer, label, { op: 'latency', plan });
  verifyExactlyOnce(label, result.pushed ?? [], result.ran ?? []);
  if (result.latencies?.length !== plan.samples) throw new BenchFailure(`${label}: ${result.latencies?.length} samples, not ${plan.samples}`);
  return result.latencies;
}

// ---- a round ----

function jobsSample(n: number, ms: number): Sample {
  const t = throughput(n, ms);
  return { value: t.jobsPerSec, detail: `${count(n)} jobs in ${count(Math.round(t.ms))} ms`, raw: { ...t } };
}

function latencySample(latencies: number[]): Sample {
  const raw = { samples: latencies.length, min: Math.min(...latencies), p95: percentile(latencies, 95), max: Math.max(...latencies) };
  return { value: percentile(latencies, 50), detail: `${raw.samples} samples, min ${raw.min.toFixed(2)} p95 ${raw.p95.toFixed(2)} max ${raw.max.toFixed(2)} ms`, raw };
}

/** `oursPrefetch`: ours with --prefetch (the rows against graphile-worker batched). */
type Contender = 'ours' | 'oursPrefetch' | Peer;

function whoIs(contender: Contender): string {
  if (contender === 'ours') return 'ours';
  return contender === 'oursPrefetch' ? `ours --prefetch ${PREFETCH}` : contender.name;
}

async function measureOnce(contender: Contender, measure: Measure, sizes: PgPeersSizes): Promise<Sample> {
  const label = `pgpeers ${whoIs(contender)}: ${measure.what}`;
  switch (measure.kind) {
    case 'process': {
      const ms = typeof contender === 'string'
        ? await sqlInProcess('postgres', measure.n, measure.concurrency, contender === 'oursPrefetch' ? { prefetch: PREFETCH } : {})
        : await peerProcess(contender, label, measure.n, measure.concurrency);
      return jobsSample(measure.n, ms);
    }
    case 'bulk': {
      const ms = typeof contender === 'string' ? await oursBulk(sizes.bulk, sizes.chunk) : await peerBulk(contender, label, sizes.bulk, sizes.chunk);
      return jobsSample(sizes.bulk, ms);
    }
    case 'latency':
      return latencySample(typeof contender === 'string' ? await oursLatency(sizes.latency) : await peerLatency(contender, label, sizes.latency));
  }
}

/** One round of every figure; returns the samples for run.ts to add, each [figure key, side, sample]. */
export async function pgpeersRound(round: number, sizes: PgPeersSizes): Promise<[string, Side, Sample][]> {
  if (round === 0) await warmUp();
  const samples: [string, Side, Sample][] = [];
  const ours = new Map<string, Sample>();
  for (const measure of measures(sizes)) {
    const peers = peersOf(measure);
    const contenders: Contender[] = ['ours', ...(peers.some(prefetches) ? ['oursPrefetch' as const] : []), ...peers];
    const turn = round % contenders.length;
    for (const contender of [...contenders.slice(turn), ...contenders.slice(0, turn)]) {
      const sample = await measureOnce(contender, measure, sizes);
      if (contender === 'ours') {
        ours.set(measure.key, sample);
        for (const peer of peers.filter((p) => !prefetches(p))) samples.push([`pg.${measure.key}.${peer.key}`, 'ours', sample]);
      } else if (contender === 'oursPrefetch') {
        for (const peer of peers.filter(prefetches)) samples.push([`pg.${measure.key}.${peer.key}`, 'ours', sample]);
      } else {
        samples.push([`pg.${measure.key}.${contender.key}`, 'peer', sample]);
      }
      const value = measure.kind === 'latency' ? `${sample.value.toFixed(2)} ms` : `${count(sample.value)} jobs/s`;
      progress(`round ${round + 1}: pg ${measure.key} ${whoIs(contender)} = ${value} (${sample.detail})`);
    }
  }
  for (const concurrency of [1, 50]) {
    samples.push([`pg.c${concurrency}.depth`, 'ours', ours.get(`c${concurrency}_20k`)!]);
    samples.push([`pg.c${concurrency}.depth`, 'peer', ours.get(`c${concurrency}_5k`)!]);
  }
  return samples;
}

/** Node 22 found (or installed) and each contender run once on a few jobs, before any timing. */
async function warmUp(): Promise<void> {
  progress(`pgpeers: warm-up (Node ${node22().version} for the peers)`);
  await sqlInProcess('postgres', 500, 50);
  await sqlInProcess('postgres', 500, 1, { prefetch: PREFETCH });
  for (const peer of PEERS) await peerProcess(peer, `pgpeers warm-up ${peer.name}`, 500, 50);
}

/** A peer's installed version (graphile-worker's "exports" does not open its package.json to require). */
function versionOf(name: string): string {
  return (JSON.parse(readFileSync(path.join(REPO_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The notes line: who the peers are and how each is set up. */
export function pgpeersNote(): string {
  return `PostgreSQL peers (part pgpeers), in the same run on the same server, each measurement in a fresh schema of its own: graphile-worker ${versionOf('graphile-worker')} and pg-boss ${versionOf('pg-boss')} on Node ${node22().version} (child processes; ours on this Node, in-process). ` +
    `graphile-worker: run() with taskList, maxPoolSize max(10, c+2), its silent logger and NO_LOG_SUCCESS; "batched" adds localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0 (its performance page); timed to every handler run AND its jobs table empty (it does not await completions); against it ours runs with --prefetch ${PREFETCH}, timed to its last ack committed. ` +
    `pg-boss: c=1 batchSize 1 with burstWhenReadyExceeds 1 (the queue's counts refreshed by supervise() after the preload, else it polls every 2 s); c=50 one handler given 50 jobs per fetch (batchSize 50, burstWhenBatchFull: 50 local workers of batchSize 1 measured ~10x slower); timed to every job in state completed. ` +
    `Bulk: ours manager.push, graphile-worker addJobs, pg-boss insert, 1,000 per call. Pick-up: graphile-worker LISTEN/NOTIFY (its default), pg-boss useListenNotify + queue notify (its fastest documented setting; default 2 s poll), ours an in-process Worker with the default --sleep 3 waiting on LISTEN/NOTIFY; each pushes from a separate producer (ours: a second QueueManager) in the same process, push call -> handler start.`;
}
