/**
 * Runs one attempt of a job: builds the instance from its envelope and awaits handle() under the
 * job's timeout. At the timeout ctx.signal aborts; a job that honours it settles at once, and one
 * that ignores it is given a short grace and then reported as hung, so the caller can record the
 * attempt and stop trusting this process.
 */
import type { Logger } from 'pino';
import { JobTimeoutError, QueueError } from '../errors.ts';
import type { Job, JobClass, JobContext } from '../jobs/Job.ts';
import { hydrate } from '../jobs/serialize.ts';

/** How long a job that ignores its aborted signal may take to settle before it counts as hung. */
const ABORT_GRACE_MS = 2_000;

export type AttemptResult =
  | { ok: true }
  | { ok: false; error: Error; timedOut: boolean; hung: boolean };

/** A fresh instance of the class with the job's restored fields. */
export function instantiate(jobClass: JobClass, jobName: string, data: Record<string, unknown>): Job {
  let job: Job;
  try {
    job = new jobClass();
  } catch (error) {
    throw new QueueError('PAYLOAD_INVALID', `the constructor of ${jobName} threw: ${(error as Error).message}`, { cause: error });
  }
  return hydrate(job, data);
}

/**
 * The worker's "stop at once" (a second SIGINT), heard by every running attempt. A set of callbacks
 * rather than an AbortSignal: an EventTarget listener added and removed per job costs more than the
 * job itself when jobs are trivial.
 */
export class Cancellation {
  private readonly listeners = new Set<(reason: Error) => void>();
  private why: Error | undefined;

  get reason(): Error | undefined {
    return this.why;
  }

  cancel(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    for (const listener of this.listeners) listener(reason);
    this.listeners.clear();
  }

  /** Calls `listener` on cancel (at once if already cancelled); returns the function that stops listening. */
  listen(listener: (reason: Error) => void): () => void {
    if (this.why) {
      listener(this.why);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface AttemptContext {
  id: string;
  attempt: number;
  queue: string;
  connection: string;
  log: Logger;
  timeoutSeconds: number;
  /** Cancelled when the worker must give the job up at once (a second SIGINT). */
  cancel?: Cancellation;
}

/**
 * Runs handle() and settles once: when it does, when it was cancelled (handed back at once), or
 * ABORT_GRACE_MS after the timeout if it ignored its aborted signal (hung). The AbortController
 * behind ctx.signal is made only if the job looks at it: most jobs never do.
 */
export function runAttempt(job: Job, context: AttemptContext): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let controller: AbortController | undefined;
    /** Why the attempt was aborted (its timeout, or the worker's cancel); built only when it happens. */
    let abortedWith: Error | undefined;
    let timeout: JobTimeoutError | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const abort = (reason: Error) => {
      abortedWith ??= reason;
      controller?.abort(reason);
    };
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      stopListening();
      resolve(result);
    };
    const ctx: JobContext = {
      id: context.id,
      attempt: context.attempt,
      queue: context.queue,
      connection: context.connection,
      log: context.log,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (abortedWith) controller.abort(abortedWith);
        }
        return controller.signal;
      },
    };

    const timer = setTimeout(() => {
      timeout = new JobTimeoutError(context.timeoutSeconds);
      abort(timeout);
      graceTimer = setTimeout(() => settle({ ok: false, error: timeout!, timedOut: true, hung: true }), ABORT_GRACE_MS);
    }, context.timeoutSeconds * 1000);
    // Told to stop at once: the job is handed back without waiting for it to settle.
    const stopListening = context.cancel?.listen((reason) => {
      if (timeout !== undefined) return; // past its timeout already: that outcome stands
      abort(reason);
      settle({ ok: false, error: reason, timedOut: false, hung: false });
    }) ?? (() => {});

    const failed = (error: unknown) => {
      // A job that threw because its timeout aborted it timed out; so did one that finished late.
      const timedOut = timeout !== undefined && abortedWith === timeout;
      settle({ ok: false, error: timedOut ? timeout! : toError(error), timedOut, hung: false });
    };
    try {
      Promise.resolve(job.handle(ctx)).then(() => (timeout !== undefined && abortedWith === timeout ? failed(timeout) : settle({ ok: true })), failed);
    } catch (error) {
      failed(error);
    }
  });
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(typeof value === 'string' ? value : `non-Error thrown: ${safeString(value)}`);
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
