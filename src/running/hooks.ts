/**
 * A job class's hooks: failed(error), completed(result) and retrying(error). Each is called after
 * what it reports is on record, so it is best effort: what it throws is logged and changes nothing.
 */
import type { Logger } from 'pino';
import { describeError, toError } from '../errors.ts';
import type { Job } from '../jobs/Job.ts';

/** The hooks, and what the job's outcome is whatever the hook does. */
const STANDS = {
  failed: 'the failed record is kept',
  completed: 'the job stays completed',
  retrying: 'the job still runs again',
} as const;

export type Hook = keyof typeof STANDS;

/** Calls the job's `hook` with `argument`, if its class has one; never throws. */
export async function callHook<H extends Hook>(job: Job, hook: H, argument: Parameters<NonNullable<Job[H]>>[0], log: Logger): Promise<void> {
  const method = job[hook] as ((argument: unknown) => unknown) | undefined;
  if (typeof method !== 'function') return;
  try {
    await method.call(job, argument);
  } catch (hookError) {
    log.error({ err: describeError(toError(hookError)) }, `${hook}() hook threw; ${STANDS[hook]}`);
  }
}

/** Whether the job's class has `hook`: a job without one costs nothing more. */
export function hasHook(job: Job, hook: Hook): boolean {
  return typeof job[hook] === 'function';
}
