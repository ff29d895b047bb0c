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

export interface AttemptContext {
  id: string;
  attempt: number;
  queue: string;
  connection: string;
  log: Logger;
  timeoutSeconds: number;
  /** Aborted when the worker must give the job up at once (a second SIGINT). */
  cancel?: AbortSignal;
}

export async function runAttempt(job: Job, context: AttemptContext): Promise<AttemptResult> {
  const controller = new AbortController();
  // Built only when the timeout fires: an Error captures a stack, too dear to make for every job.
  let timeout: JobTimeoutError | undefined;
  const onCancel = () => controller.abort(context.cancel?.reason);
  context.cancel?.addEventListener('abort', onCancel, { once: true });
  const ctx: JobContext = {
    id: context.id,
    attempt: context.attempt,
    queue: context.queue,
    connection: context.connection,
    signal: controller.signal,
    log: context.log,
  };

  let timer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => {
      timeout = new JobTimeoutError(context.timeoutSeconds);
      controller.abort(timeout);
      graceTimer = setTimeout(() => resolve('hung'), ABORT_GRACE_MS);
    }, context.timeoutSeconds * 1000);
  });

  // Told to stop at once: the job is handed back without waiting for it to settle.
  const cancelled = new Promise<'cancelled'>((resolve) => controller.signal.addEventListener('abort', () => {
    if (timeout === undefined || controller.signal.reason !== timeout) resolve('cancelled');
  }, { once: true }));

  try {
    const outcome = await Promise.race([Promise.resolve().then(() => job.handle(ctx)).then(() => 'done' as const), hung, cancelled]);
    if (outcome === 'hung') return { ok: false, error: timeout!, timedOut: true, hung: true };
    if (outcome === 'cancelled') return { ok: false, error: toError(controller.signal.reason ?? 'cancelled'), timedOut: false, hung: false };
    // A job that finished after its deadline still overran it.
    if (timeout !== undefined && controller.signal.reason === timeout) return { ok: false, error: timeout, timedOut: true, hung: false };
    return { ok: true };
  } catch (error) {
    const timedOut = timeout !== undefined && controller.signal.reason === timeout;
    return { ok: false, error: timedOut ? timeout! : toError(error), timedOut, hung: false };
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    context.cancel?.removeEventListener('abort', onCancel);
  }
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
