import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { JobTimeoutError } from '../../errors.ts';
import { openPayload } from '../../jobs/payload.ts';
import type { Job } from '../../jobs/Job.ts';
import { instantiate } from '../../running/attempt.ts';
import { settleFailedAttempt } from '../../running/run-reservation.ts';
import type { TimeoutRecord } from '../../running/watchdog.ts';
import type { CliApp } from '../app.ts';
import { createLogger } from '../logger.ts';

/**
 * Started by a worker's watchdog just before it kills its own process: settles the job that blocked
 * the event loop (retry with backoff, or fail with a timeout reason), using the job's own lease
 * token, so a lease that was taken over meanwhile changes nothing. Not for people.
 */
export function registerRecordTimeout(program: Command, app: CliApp): void {
  program.command('internal:record-timeout <file>', { hidden: true }).action(async (file: string) => {
    const record = JSON.parse(await readFile(file, 'utf8')) as TimeoutRecord;
    // The watchdog made the file's folder for this record alone.
    await rm(path.dirname(file), { recursive: true, force: true });
    const log = (await createLogger({ json: true })).child({ jobId: record.jobId, job: record.job, queue: record.reservation.queue, attempt: record.reservation.attempts });
    app.logger = log;
    const manager = await app.queue();
    const driver = await manager.driver(record.connection);
    const { envelope, data } = openPayload(record.reservation.payload, manager.payloads);
    let job: Job | null = null;
    try {
      const registered = (await manager.registry()).get(envelope.job);
      if (registered) job = instantiate(registered.jobClass, envelope.job, data);
    } catch {
      // The failed() hook is best effort: the timeout is recorded either way.
    }
    await settleFailedAttempt({ driver, defaults: record.defaults }, record.reservation, envelope, new JobTimeoutError(record.timeoutSeconds), true, job, log, record.timeoutSeconds * 1000);
  });
}
