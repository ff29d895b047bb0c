/**
 * Running a job inline, at dispatch (the `sync` connection), with the same retry and failure rules
 * as a worker: up to maxTries attempts (without waiting out the backoff, which would only stall the
 * caller), each under the job's timeout; when the last one fails, failed() is called and the caller
 * gets the job's error. Nothing is stored, so there is nothing to retry later.
 */
import type { Logger } from 'pino';
import { QueueError, UnrecoverableError } from '../errors.ts';
import type { Envelope } from '../jobs/envelope.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { decodeData } from '../jobs/serialize.ts';
import { BUILT_IN_DEFAULTS, settingsFor, shouldRetry } from '../jobs/settings.ts';
import { instantiate, runAttempt } from './attempt.ts';
import { callFailedHook } from './run-reservation.ts';

export class InlineRunner {
  constructor(
    /** The connection's name, as the job's context tells it. */
    readonly connection: string,
    private readonly registry: () => Promise<JobRegistry>,
    private readonly log: Logger,
  ) {}

  async run(envelope: Envelope): Promise<void> {
    const { jobClass } = (await this.registry()).require(envelope.job);
    const settings = settingsFor(envelope, BUILT_IN_DEFAULTS);
    for (let attempt = 1; ; attempt += 1) {
      const job = instantiate(jobClass, envelope.job, decodeData(envelope.data));
      const log = this.log.child({ jobId: envelope.id, job: envelope.job, queue: envelope.queue, attempt });
      const result = await runAttempt(job, { id: envelope.id, attempt, queue: envelope.queue, connection: this.connection, log: () => log, timeoutSeconds: settings.timeout });
      if (result.ok) return;
      if (shouldRetry(result.error, attempt, settings) && !result.hung) continue;
      await callFailedHook(job, result.error, log);
      const why = result.error instanceof UnrecoverableError ? 'it is unrecoverable' : `after ${attempt} attempt(s)`;
      throw new QueueError('JOB_FAILED', `${envelope.job} failed ${why}: ${result.error.message}`, { cause: result.error });
    }
  }
}
