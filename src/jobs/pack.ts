/** Turns a job instance into its envelope, refusing at dispatch anything that cannot round-trip. */
import { randomUUID } from 'node:crypto';
import { QueueError } from '../errors.ts';
import type { DispatchOptions } from '../queue/types.ts';
import { ENVELOPE_VERSION, LIMITS, resolveBackoff, validateSettings, type Envelope } from './envelope.ts';
import type { Job, JobClass } from './Job.ts';
import { encodeData } from './serialize.ts';

export function packJob(job: Job, name: string, options: DispatchOptions): { envelope: Envelope; delayMs: number } {
  const jobClass = job.constructor as JobClass;
  const queue = options.queue ?? jobClass.queue ?? 'default';
  validateQueueName(queue);
  const maxTries = jobClass.maxTries ?? null;
  const timeout = jobClass.timeout ?? null;
  const backoff = resolveBackoff(jobClass.backoff, jobClass.maxTries);
  validateSettings(name, { maxTries, timeout, backoff });
  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    id: randomUUID(),
    job: name,
    queue,
    data: encodeData(job, name),
    attempts: 0,
    maxTries,
    timeout,
    backoff,
    createdAt: Date.now(),
  };
  return { envelope, delayMs: delayMs(options.delay) };
}

export function validateQueueName(queue: unknown): asserts queue is string {
  if (typeof queue !== 'string' || queue.length === 0 || queue.length > LIMITS.nameLength) {
    throw new QueueError('INVALID_ARGUMENT', `queue name must be 1 to ${LIMITS.nameLength} characters (got ${JSON.stringify(queue)})`);
  }
}

function delayMs(delay: number | Date | undefined): number {
  if (delay === undefined) return 0;
  if (delay instanceof Date) {
    if (Number.isNaN(delay.getTime())) throw new QueueError('INVALID_ARGUMENT', 'delay is an invalid Date');
    return Math.max(0, delay.getTime() - Date.now());
  }
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
    throw new QueueError('INVALID_ARGUMENT', `delay must be seconds >= 0 or a Date (got ${String(delay)})`);
  }
  return delay * 1000;
}
