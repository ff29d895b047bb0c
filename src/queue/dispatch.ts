/**
 * dispatch() and the Queue facade for application code. They share one QueueManager per process,
 * built on first use from the project's config/queue.ts; `await Queue.close()` lets a script exit.
 */
import type { Kysely, Transaction } from 'kysely';
import { QueueError } from '../errors.ts';
import { provideDispatcher, type Job } from '../jobs/Job.ts';
import type { DispatchOptions } from '../jobs/settings.ts';
import { loadTracing } from '../jobs/tracing.ts';
import { runTransaction } from './after-commit.ts';
import { QueueFake } from './fake.ts';
import { QueueManager } from './manager.ts';
import { cancelJob, checkState, findJob, openRecord, waitForJob, type JobInfo } from './records.ts';
import { listWorkers, readMetrics, type MetricsWindow, type QueueMetrics, type WorkerInfo } from './monitoring.ts';
import { listSchedules, pauseSchedule, removeSchedule, runSchedule, upsertSchedule, type ScheduleInfo } from './schedules.ts';
import type { ScheduleEntry } from '../config/schedule.ts';
import type { JobState, Pushed } from '../contract/driver.ts';

let shared: Promise<QueueManager> | undefined;

export function queueManager(): Promise<QueueManager> {
  shared ??= QueueManager.fromProject().catch((error) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** Makes `manager` the one dispatch() uses (the CLI's, so jobs that dispatch jobs share it). */
export function useQueueManager(manager: QueueManager): void {
  shared = Promise.resolve(manager);
}

/** While a test has faked the queue (Queue.fake()), where dispatches go instead. */
let fake: QueueFake | undefined;

/**
 * What became of a dispatched job: its id, or for a unique job whose key was held, the holder's id
 * with `duplicate: true`; `replaced` names the not-started holder a `replace` job took the place of.
 */
export type Dispatched = Pushed;

/** Options that also ask what became of the job (`returnInfo: true`): a Dispatched instead of the id. */
export type DispatchInfoOptions = DispatchOptions & { returnInfo: true };

/**
 * Stores jobs (faked: records them); what became of each. Packing a job is synchronous, so
 * OpenTelemetry is looked for first (once): the first job dispatched in a span carries its trace too.
 */
async function store(jobs: Job[], options: DispatchOptions): Promise<Dispatched[]> {
  await loadTracing();
  if (fake) return fake.record(jobs, options).map((id) => ({ id, duplicate: false }));
  return (await queueManager()).push(jobs, options);
}

/** Stores the job on its queue and returns its id (for a duplicate of a unique job, the holder's). */
export async function dispatch(job: Job, options: DispatchOptions = {}): Promise<string> {
  const [pushed] = await store([job], options);
  return pushed!.id;
}

provideDispatcher(dispatch);

function push(job: Job, options: DispatchInfoOptions): Promise<Dispatched>;
function push(job: Job, options?: DispatchOptions): Promise<string>;
async function push(job: Job, options: DispatchOptions & { returnInfo?: boolean } = {}): Promise<string | Dispatched> {
  const { returnInfo, ...rest } = options;
  const [pushed] = await store([job], rest);
  return returnInfo ? pushed! : pushed!.id;
}

function bulk(jobs: Job[], options: DispatchInfoOptions): Promise<Dispatched[]>;
function bulk(jobs: Job[], options?: DispatchOptions): Promise<string[]>;
async function bulk(jobs: Job[], options: DispatchOptions & { returnInfo?: boolean } = {}): Promise<string[] | Dispatched[]> {
  if (!Array.isArray(jobs)) throw new QueueError('INVALID_ARGUMENT', 'Queue.bulk() takes an array of jobs');
  const { returnInfo, ...rest } = options;
  const pushed = await store(jobs, rest);
  return returnInfo ? pushed : pushed.map((p) => p.id);
}

export const Queue = {
  /** Stores the job; its id, or with `returnInfo: true` what became of it (a duplicate of a unique job says so). */
  push,

  later(delay: number | Date, job: Job, options: DispatchOptions = {}): Promise<string> {
    return dispatch(job, { ...options, delay });
  },

  /** Stores many jobs in one round trip per connection, all or nothing; unique jobs are checked one by one. */
  bulk,

  /** Jobs not yet done on a queue (ready, delayed and reserved); faked, the ones recorded for it. */
  async size(queue = 'default', options: { connection?: string } = {}): Promise<number> {
    if (fake) return fake.dispatched.filter((d) => d.queue === queue).length;
    return (await (await queueManager()).driver(options.connection)).size(queue);
  },

  /**
   * From now on dispatch() and Queue.* record jobs instead of storing them (no backend needed), for
   * an application's tests; returns the recorder with its assertions. Queue.restore() ends it.
   */
  fake(): QueueFake {
    fake = new QueueFake();
    return fake;
  },

  /** Ends Queue.fake(): dispatch() stores jobs again. */
  restore(): void {
    fake = undefined;
  },

  /**
   * Runs `callback` in a transaction of the application's kysely `db`; jobs dispatched in it with
   * `{ afterCommit: trx }` are stored once it has committed (on any backend), and dropped if it
   * rolls back. Returns what the callback returns.
   */
  transaction<DB, T>(db: Kysely<DB>, callback: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return runTransaction(db, callback);
  },

  /** The record of job `id` in any state, opened (its fields, result and progress decoded); undefined if there is none. */
  async find(id: string, options: { connection?: string } = {}): Promise<JobInfo | undefined> {
    return findJob(await queueManager(), id, options.connection);
  },

  /** One state's records, newest first, a page at a time: pass the page's `cursor` for the next. */
  async list(options: { state: JobState; queue?: string; limit?: number; cursor?: string; connection?: string }): Promise<{ jobs: JobInfo[]; cursor?: string }> {
    const manager = await queueManager();
    const driver = await manager.driver(options.connection);
    const page = await driver.records.list({ state: checkState(options?.state), queue: options.queue, limit: options.limit, cursor: options.cursor });
    return { jobs: page.records.map((record) => openRecord(record, manager.payloads)), ...(page.cursor ? { cursor: page.cursor } : {}) };
  },

  /**
   * Cancels a job: a waiting one at once (it never starts: 'cancelled'); a running one's signal
   * aborts within about a second and it ends cancelled ('requested'). Throws JOB_NOT_FOUND or
   * JOB_FINISHED.
   */
  async cancel(id: string, options: { connection?: string } = {}): Promise<'cancelled' | 'requested'> {
    return cancelJob(await queueManager(), id, options.connection);
  },

  /**
   * Resolves with what the job's handle() returned once it has completed; rejects with a QueueError
   * whose code is JOB_FAILED, JOB_CANCELLED, JOB_EXPIRED, WAIT_TIMEOUT (after `timeout` seconds) or
   * JOB_NOT_FOUND.
   */
  async wait(id: string, options: { timeout?: number; connection?: string } = {}): Promise<unknown> {
    return waitForJob(await queueManager(), id, { timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000, connection: options.connection });
  },

  /**
   * Schedules at run time (those of config/schedule.ts are changed there): list() with their next
   * and last runs; upsert() adds or replaces one on its connection, as a worker sees within a
   * second; remove(), pause() and resume() by name; run() dispatches one of its jobs now.
   */
  schedules: {
    async list(options: { connection?: string } = {}): Promise<ScheduleInfo[]> {
      return (await listSchedules(await queueManager(), options.connection)).schedules;
    },
    async upsert(entry: ScheduleEntry<any>): Promise<void> {
      await upsertSchedule(await queueManager(), entry);
    },
    async remove(name: string, options: { connection?: string } = {}): Promise<void> {
      await removeSchedule(await queueManager(), name, options.connection);
    },
    async pause(name: string, options: { connection?: string } = {}): Promise<void> {
      await pauseSchedule(await queueManager(), name, true, options.connection);
    },
    async resume(name: string, options: { connection?: string } = {}): Promise<void> {
      await pauseSchedule(await queueManager(), name, false, options.connection);
    },
    async run(name: string, options: { connection?: string } = {}): Promise<string> {
      return runSchedule(await queueManager(), name, options.connection);
    },
  },

  /** The workers of a connection whose heartbeat is live (SPEC 15), by name. */
  async workers(options: { connection?: string } = {}): Promise<WorkerInfo[]> {
    return listWorkers(await queueManager(), options.connection);
  },

  /**
   * Each queue's figures over the last hour (or day): jobs completed, failed and retried, wait and
   * run time percentiles, a per-step series, counts by state and the oldest ready job's age.
   */
  async metrics(options: { connection?: string; queue?: string; window?: MetricsWindow } = {}): Promise<QueueMetrics[]> {
    return readMetrics(await queueManager(), options);
  },

  async close(): Promise<void> {
    const closing = shared;
    shared = undefined;
    if (closing) await (await closing).close();
  },
};
