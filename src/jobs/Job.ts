/**
 * The base class of every job. Settings are static fields (undefined here, so the worker can tell a
 * setting the class declares from one it leaves to the worker's flags); the payload is the
 * instance's own enumerable fields, minus `#private` ones and those whose name starts with `_`.
 */
import type { Logger } from 'pino';
import { QueueError } from '../errors.ts';
import type { Backoff, DispatchOptions, Duration, Keep, UniqueRule } from './settings.ts';

export type { Backoff } from './settings.ts';

export interface JobContext {
  /** The job's id, as returned by dispatch(). */
  readonly id: string;
  /** 1 on the first run, 2 on the first retry, and so on. */
  readonly attempt: number;
  readonly queue: string;
  readonly connection: string;
  /** Aborted when the job reaches its timeout, is cancelled, or the worker must stop at once. */
  readonly signal: AbortSignal;
  /** A logger whose lines carry this job's id, name and attempt. */
  readonly log: Logger;
  /**
   * Reports how far the job got: a number from 0 to 100 or a small plain object. Stored on the
   * backend at once (Queue.find and `queue show` see it) and kept in the job's record.
   */
  progress(value: number | Record<string, unknown>): Promise<void>;
}

/** The data fields of a job: what dispatch() stores and the worker restores. */
export type JobData<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K extends `_${string}` ? never : K]?: T[K];
};

export type JobClass<T extends Job = Job> = (new () => T) & Omit<typeof Job, 'prototype'>;

export abstract class Job {
  /** The queue dispatch() uses when none is given. Default 'default'. */
  static queue?: string;
  /** The connection dispatch() uses when none is given. Default: the configured default. */
  static connection?: string;
  /** How many times the job may run before it is failed for good. Default 3 (or `--max-tries`). */
  static maxTries?: number;
  /** Seconds the job may run. Default 60 (or `--timeout`). */
  static timeout?: number;
  /** Seconds to wait before each retry. Default 0 (or `--backoff`). */
  static backoff?: Backoff;
  /** A stable name that replaces the one derived from the file path under app/jobs. */
  static jobName?: string;
  /** Store this job's fields encrypted and authenticated (AES-256-GCM with APP_KEY). */
  static encrypted?: boolean;

  /** Higher runs first; FIFO within one priority. A whole number, default 0 (dispatch's `priority` overrides it). */
  static priority?: number;
  /**
   * One job per key at a time: `{ key: (job) => string, for?: '1h', until?: 'start' | 'done',
   * onDuplicate?: 'ignore' | 'replace' }`. A duplicate stores nothing and dispatch returns the
   * holder's id (Queue.push(job, { returnInfo: true }) says it was a duplicate).
   */
  static unique?: UniqueRule<any>;
  /** Seconds (or '10m') after it may first run: a job not started by then never runs and ends `expired`. */
  static expireAfter?: Duration;

  /** How long the record of a completed job is kept: `false` keeps none (the fastest path). Default: the connection's `keep`. */
  static keep?: Keep;

  /**
   * Runs the job. What it returns (or resolves to) is kept as the job's result in its record
   * (Queue.find, Queue.wait, `queue show`), through the same codecs as its fields.
   */
  abstract handle(ctx: JobContext): unknown;

  /** Called once, when the job has failed for good. Its own errors are logged, never rethrown. */
  failed?(error: Error): Promise<void> | void;

  /**
   * Called once the job has completed and its completion is on the backend, with what handle()
   * returned; not when its lease was taken over first (it runs again elsewhere). A worker calls it
   * after freeing the job's slot. Its own errors are logged, never rethrown.
   */
  completed?(result: unknown): Promise<void> | void;

  /**
   * Called when a try failed and the job is back on its queue to run again, with that try's error.
   * A worker calls it after freeing the job's slot. Its own errors are logged, never rethrown.
   */
  retrying?(error: Error): Promise<void> | void;

  /** `await SendWelcomeEmail.dispatch({ userId: 1 })`: builds the job and dispatches it. */
  static async dispatch<T extends Job>(this: new () => T, data: JobData<T> = {}, options: DispatchOptions = {}): Promise<string> {
    const job = new this();
    Object.assign(job, data);
    if (!dispatcher) throw new QueueError('INVALID_ARGUMENT', "Job.dispatch() needs dispatch() from the package: import { Job } from 'queuework' rather than from its files");
    return dispatcher(job, options);
  }
}

type Dispatcher = (job: Job, options: DispatchOptions) => Promise<string>;
let dispatcher: Dispatcher | undefined;

/**
 * Hands Job.dispatch() the queue's dispatch(), which lives a layer above the job model (importing
 * it here would make the model depend on everything that stores jobs). queue/dispatch.ts calls this
 * when it is loaded, as the package's entry point does.
 */
export function provideDispatcher(dispatch: Dispatcher): void {
  dispatcher = dispatch;
}

export function isJobClass(value: unknown): value is JobClass {
  return typeof value === 'function' && value.prototype instanceof Job;
}
