/**
 * The rules that decide a job's fate, named like sentences. A setting the job class declares
 * (carried in its envelope) wins; the worker's flags replace the defaults for jobs that declare none.
 */
import { UnrecoverableError } from '../errors.ts';
import { backoffDelay, type Envelope, type JobDefaults } from '../jobs/envelope.ts';

export interface JobSettings {
  maxTries: number;
  timeout: number;
  backoff: number[];
}

export function settingsFor(envelope: Pick<Envelope, 'maxTries' | 'timeout' | 'backoff'>, defaults: JobDefaults): JobSettings {
  return {
    maxTries: envelope.maxTries ?? defaults.maxTries,
    timeout: envelope.timeout ?? defaults.timeout,
    backoff: envelope.backoff ?? defaults.backoff,
  };
}

/** A job reserved more times than it may run was lost mid-run before (killed worker, hang). */
export function hasExceededTries(attempt: number, settings: JobSettings): boolean {
  return attempt > settings.maxTries;
}

export function shouldRetry(error: unknown, attempt: number, settings: JobSettings): boolean {
  return !(error instanceof UnrecoverableError) && attempt < settings.maxTries;
}

export function retryDelaySeconds(attempt: number, settings: JobSettings): number {
  return backoffDelay(settings.backoff, attempt);
}
