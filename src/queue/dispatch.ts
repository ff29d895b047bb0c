/**
 * dispatch() and the Queue facade for application code. They share one QueueManager per process,
 * built on first use from the project's config/queue.ts; `await Queue.close()` lets a script exit.
 */
import { QueueError } from '../errors.ts';
import { provideDispatcher, type Job } from '../jobs/Job.ts';
import type { DispatchOptions } from '../jobs/settings.ts';
import { QueueManager } from './manager.ts';

let shared: Promise<QueueManager> | undefined;

function queueManager(): Promise<QueueManager> {
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

/** Stores the job on its queue and returns its id. */
export async function dispatch(job: Job, options: DispatchOptions = {}): Promise<string> {
  const [id] = await (await queueManager()).push([job], options);
  return id!;
}

provideDispatcher(dispatch);

export const Queue = {
  push(job: Job, options: DispatchOptions = {}): Promise<string> {
    return dispatch(job, options);
  },

  later(delay: number | Date, job: Job, options: DispatchOptions = {}): Promise<string> {
    return dispatch(job, { ...options, delay });
  },

  /** Stores many jobs in one round trip per connection, all or nothing. */
  async bulk(jobs: Job[], options: DispatchOptions = {}): Promise<string[]> {
    if (!Array.isArray(jobs)) throw new QueueError('INVALID_ARGUMENT', 'Queue.bulk() takes an array of jobs');
    return (await queueManager()).push(jobs, options);
  },

  /** Jobs not yet done on a queue (ready, delayed and reserved). */
  async size(queue = 'default', options: { connection?: string } = {}): Promise<number> {
    return (await (await queueManager()).driver(options.connection)).size(queue);
  },

  async close(): Promise<void> {
    const closing = shared;
    shared = undefined;
    if (closing) await (await closing).close();
  },
};
