/**
 * The `sync` connection runs a job inline, at dispatch, with the same retry and failure rules as a
 * worker: up to maxTries attempts (without waiting out the backoff, which would only stall the
 * caller), each under the job's timeout; when the last one fails, failed() is called and
 * dispatch() rejects with the job's error. Nothing is stored, so there is nothing to retry later.
 */
import type { Logger } from 'pino';
import { QueueError, UnrecoverableError } from '../../errors.ts';
import { BUILT_IN_DEFAULTS, type Envelope } from '../../jobs/envelope.ts';
import type { JobRegistry } from '../../jobs/registry.ts';
import { decodeData } from '../../jobs/serialize.ts';
import { instantiate, runAttempt } from '../../worker/attempt.ts';
import { callFailedHook } from '../../worker/process.ts';
import { settingsFor, shouldRetry } from '../../worker/settings.ts';

export class SyncConnection {
  constructor(
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
