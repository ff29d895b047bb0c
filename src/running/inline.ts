/**
 * Running a job inline, with the same retry and failure rules as a worker: up to maxTries attempts
 * (without waiting out the backoff, which would only stall the caller), each under the job's
 * timeout and in its trace span; its hooks are called as a worker calls them (completed(),
 * retrying() before each retry, failed() when the last try fails), and awaited. The `sync`
 * connection runs jobs this way at dispatch (and rejects with the job's error), and so does
 * Queue.fake()'s runAll().
 */
import type { Logger } from 'pino';
import { QueueError, UnrecoverableError } from '../errors.ts';
import type { Envelope } from '../jobs/envelope.ts';
import type { JobClass } from '../jobs/Job.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { decodeData } from '../jobs/serialize.ts';
import { BUILT_IN_DEFAULTS, settingsFor, shouldRetry } from '../jobs/settings.ts';
import { traceTry } from '../jobs/tracing.ts';
import { instantiate, runAttempt } from './attempt.ts';
import { callHook } from './hooks.ts';

export interface InlineResult {
  ok: boolean;
  /** Attempts made. */
  attempts: number;
  /** The last attempt's error, when it failed for good. */
  error?: Error;
}

/** Runs the job of `envelope` (an instance of `jobClass`) to its end, inline. */
export async function runInline(jobClass: JobClass, envelope: Envelope, connection: string, log: Logger): Promise<InlineResult> {
  const settings = settingsFor(envelope, BUILT_IN_DEFAULTS);
  for (let attempt = 1; ; attempt += 1) {
    const job = instantiate(jobClass, envelope.job, decodeData(envelope.data));
    const jobLog = log.child({ jobId: envelope.id, job: envelope.job, queue: envelope.queue, attempt });
    const result = await traceTry(envelope, attempt, () => runAttempt(job, { id: envelope.id, attempt, queue: envelope.queue, connection, log: () => jobLog, timeoutSeconds: settings.timeout }));
    if (result.ok) {
      await callHook(job, 'completed', result.value, jobLog);
      return { ok: true, attempts: attempt };
    }
    if (shouldRetry(result.error, attempt, settings) && !result.hung) {
      await callHook(job, 'retrying', result.error, jobLog);
      continue;
    }
    await callHook(job, 'failed', result.error, jobLog);
    return { ok: false, attempts: attempt, error: result.error };
  }
}

/** The `sync` connection: each job runs inside dispatch(), which rejects (JOB_FAILED) when it fails for good. */
export class InlineRunner {
  constructor(
    /** The connection's name, as the job's context tells it. */
    readonly connection: string,
    private readonly registry: () => Promise<JobRegistry>,
    private readonly log: Logger,
  ) {}

  async run(envelope: Envelope): Promise<void> {
    const { jobClass } = (await this.registry()).require(envelope.job);
    const result = await runInline(jobClass, envelope, this.connection, this.log);
    if (result.ok) return;
    const error = result.error!;
    const why = error instanceof UnrecoverableError ? 'it is unrecoverable' : `after ${result.attempts} attempt(s)`;
    throw new QueueError('JOB_FAILED', `${envelope.job} failed ${why}: ${error.message}`, { cause: error });
  }
}
