/** Turns a job instance into its envelope, refusing at dispatch anything that cannot round-trip. */
import { randomUUID } from 'node:crypto';
import { QueueError } from '../errors.ts';
import type { DispatchOptions } from '../queue/types.ts';
import { ENVELOPE_VERSION, LIMITS, resolveBackoff, validateSettings, type Envelope } from './envelope.ts';
import type { Job, JobClass } from './Job.ts';
import { encodeData } from './serialize.ts';

interface ClassSettings {
  /** The static fields they were made from: a class whose fields change gets them made again. */
  from: [unknown, unknown, unknown];
  maxTries: number | null;
  timeout: number | null;
  backoff: number[] | null;
}

/** Per class, its validated settings: a bulk of 1,000 jobs of one class resolves them once. */
const classSettings = new WeakMap<JobClass, ClassSettings>();

function settingsOf(jobClass: JobClass, name: string): ClassSettings {
  const cached = classSettings.get(jobClass);
  if (cached && cached.from[0] === jobClass.maxTries && cached.from[1] === jobClass.timeout && cached.from[2] === jobClass.backoff) return cached;
  const settings: ClassSettings = {
    from: [jobClass.maxTries, jobClass.timeout, jobClass.backoff],
    maxTries: jobClass.maxTries ?? null,
    timeout: jobClass.timeout ?? null,
    backoff: resolveBackoff(jobClass.backoff, jobClass.maxTries),
  };
  validateSettings(name, settings);
  classSettings.set(jobClass, settings);
  return settings;
}

export function packJob(job: Job, name: string, options: DispatchOptions): { envelope: Envelope; delayMs: number } {
  const jobClass = job.constructor as JobClass;
  const queue = options.queue ?? jobClass.queue ?? 'default';
  validateQueueName(queue);
  const { maxTries, timeout, backoff } = settingsOf(jobClass, name);
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
