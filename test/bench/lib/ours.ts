/**
 * Our queue, in this process: a QueueManager on the bench project (so the registry finds Noop), one
 * connection named `bench`, pushes in chunks, and one in-process Worker that drains the queue.
 */
import pino from 'pino';
import type { ConnectionConfig } from '../../../src/config/define.ts';
import type { Job, JobClass } from '../../../src/jobs/Job.ts';
import type { JobRegistry } from '../../../src/jobs/registry.ts';
import type { Driver } from '../../../src/contract/driver.ts';
import type { QueueManager as Manager } from '../../../src/queue/manager.ts';
import type { Worker as WorkerType, WorkerOptions } from '../../../src/worker/Worker.ts';
import { defineConfig, QueueManager, Watchdog, Worker } from './built.ts';
import { setRunHook } from '../project/sink.ts';
import { BenchFailure, JOB_KINDS, JOBS, PROJECT_DIR, QUEUE, RETENTION, elapsedSince, verifyExactlyOnce } from './common.ts';

type NoopJob = Job & { i: number; t: number };

const silent = pino({ level: 'silent' });

export interface Ours {
  manager: Manager;
  driver: Driver;
  registry: JobRegistry;
  /** A Noop with its payload set (`t`: performance.now() for latency runs, else 0). */
  job(i: number, t?: number): Job;
  close(): Promise<void>;
}

export async function openOurs(connection: ConnectionConfig): Promise<Ours> {
  const manager = new QueueManager(defineConfig({ default: 'bench', connections: { bench: connection } }), PROJECT_DIR);
  const registry = await manager.registry();
  const Noop = registry.require(JOB_KINDS[JOBS.kind]).jobClass as JobClass<NoopJob>;
  const driver = await manager.driver();
  return {
    manager,
    driver,
    registry,
    job(i, t = 0) {
      const job = new Noop();
      job.i = i;
      job.t = t;
      return job;
    },
    close: () => manager.close(),
  };
}

export const BULK_CHUNK = 1_000;

/**
 * Pushes n Noops with manager.push(), `chunk` jobs per call, one call at a time; returns the ids.
 * Their `i` counts from `first` (a UniqueNoop's key: jobs of one queue need keys of their own).
 */
export async function pushOurs(ours: Ours, n: number, chunk = BULK_CHUNK, first = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += chunk) {
    const jobs = Array.from({ length: Math.min(chunk, n - start) }, (_, k) => ours.job(first + start + k));
    ids.push(...(await ours.manager.push(jobs)).map((pushed) => pushed.id));
  }
  return ids;
}

export function workerOptions(concurrency: number, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    queues: [QUEUE],
    concurrency,
    sleep: 0.05,
    rest: 0,
    once: false,
    stopWhenEmpty: true,
    defaults: { maxTries: 3, timeout: 60, backoff: [0] },
    leaseMargin: 30,
    keep: RETENTION.keep === 'none' ? false : undefined,
    ...overrides,
  };
}

/**
 * A silent in-process Worker set up as `queue work` sets one up: payloads opened by the manager's
 * rules, and a watchdog thread that every job reports to. Stop it with stopWorker(). It returns
 * once the watchdog thread has started, as the bench's BullMQ workers are timed from
 * waitUntilReady(): the thread's start-up (tens of milliseconds of a core) is a process's, once,
 * not its jobs'.
 */
export async function newWorker(ours: Ours, options: WorkerOptions): Promise<WorkerType> {
  const watchdog = new Watchdog(ours.manager.root, options.concurrency, { connection: ours.driver.connection, defaults: options.defaults }, silent);
  await watchdog.ready();
  return new Worker(ours.driver, ours.registry, { payloads: ours.manager.payloads, watchdog, ...options }, silent);
}

/** Runs a worker from newWorker() to its stop, then ends its watchdog thread (as `queue work` does). */
export async function runWorker(worker: WorkerType): Promise<Awaited<ReturnType<WorkerType['run']>>> {
  try {
    return await worker.run();
  } finally {
    await worker.options.watchdog?.stop();
  }
}

/**
 * Times one in-process worker (--stop-when-empty) draining the pushed jobs, then checks that each
 * ran exactly once and that the queue is empty with nothing failed. Returns milliseconds.
 */
export async function drainOurs(ours: Ours, label: string, pushed: string[], concurrency: number, overrides: Partial<WorkerOptions> = {}): Promise<number> {
  const ran: string[] = [];
  setRunHook((id) => ran.push(id));
  try {
    const worker = await newWorker(ours, workerOptions(concurrency, overrides));
    const start = performance.now();
    const reason = await runWorker(worker);
    const ms = elapsedSince(start);
    if (reason.code !== 'empty') throw new BenchFailure(`${label}: the worker stopped with '${reason.code}' (${reason.message})`);
    verifyExactlyOnce(label, pushed, ran);
    await expectEmpty(ours, label);
    return ms;
  } finally {
    setRunHook(undefined);
  }
}

/** Fails unless no job failed; returns how many jobs are still stored (waiting or reserved). */
export async function leftAfterRun(ours: Ours, label: string): Promise<number> {
  const failed = await ours.driver.failed.list({ limit: 1 });
  if (failed[0]) throw new BenchFailure(`${label}: jobs failed, e.g. ${failed[0].id}: ${failed[0].error.split('\n')[0]}`);
  return ours.driver.size(QUEUE);
}

/** Fails unless the bench queue holds nothing and no job failed. */
export async function expectEmpty(ours: Ours, label: string): Promise<void> {
  const left = await leftAfterRun(ours, label);
  if (left !== 0) throw new BenchFailure(`${label}: every job ran, but ${left} are still stored after the run`);
}
