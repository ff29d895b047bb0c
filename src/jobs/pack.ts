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
    id: jobId(),
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

/**
 * A queue name a worker can take: `queue work --queue a,b` splits on commas and trims spaces, so a
 * name with a comma, or with spaces at either end, could be stored but never consumed.
 */
/**
 * A job id: a version 7 UUID, whose first 48 bits are the time in ms, so ids dispatched together sit
 * together in a database index (a random v4 id touches a random index page on every insert and
 * delete: SQLite at concurrency 50 ran at half speed with an index of v4 ids). The rest is random.
 */
export function jobId(): string {
  const time = Date.now().toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

export function validateQueueName(queue: unknown): asserts queue is string {
  const bad = (why: string) => new QueueError('INVALID_ARGUMENT', `queue name ${JSON.stringify(queue)} ${why}`);
  if (typeof queue !== 'string' || queue.length === 0 || queue.length > LIMITS.nameLength) throw bad(`must be 1 to ${LIMITS.nameLength} characters`);
  if (queue.includes(',')) throw bad('has a comma: workers take a comma-separated list of queues (--queue a,b), so no worker could take it; use another name');
  if (queue.trim() !== queue) throw bad('starts or ends with a space: workers trim the names they are given, so no worker could take it');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(queue)) throw bad('has a control character; use letters, digits and punctuation');
}

/** Milliseconds from now, from seconds or a Date: within LIMITS.delaySeconds, the one rule for every backend. */
export function delayMs(delay: number | Date | undefined): number {
  if (delay === undefined) return 0;
  const ms = delay instanceof Date ? delay.getTime() - Date.now() : typeof delay === 'number' ? delay * 1000 : Number.NaN;
  if (delay instanceof Date && Number.isNaN(ms)) throw new QueueError('INVALID_ARGUMENT', 'delay is an invalid Date');
  if (!Number.isFinite(ms) || (typeof delay === 'number' && delay < 0)) {
    throw new QueueError('INVALID_ARGUMENT', `delay must be seconds >= 0 or a Date (got ${String(delay)})`);
  }
  if (ms > LIMITS.delaySeconds * 1000) {
    throw new QueueError('INVALID_ARGUMENT', `delay must be at most ${LIMITS.delaySeconds} seconds (ten years; got ${delay instanceof Date ? delay.toISOString() : String(delay)})`);
  }
  return Math.max(0, ms);
}
