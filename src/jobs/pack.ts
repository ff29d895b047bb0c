/** Turns a job instance into its envelope, refusing at dispatch anything that cannot round-trip. */
import { randomUUID } from 'node:crypto';
import { ENVELOPE_VERSION, type Envelope } from './envelope.ts';
import type { Job, JobClass } from './Job.ts';
import { encodeData } from './serialize.ts';
import { declaredSettings, delayMs, uniqueHold, validPriority, validateQueueName, type DispatchOptions, type UniqueHold } from './settings.ts';
import { activeTrace } from './tracing.ts';

/** Where a job goes in its queue, beside its envelope: its delay, priority, expiry and unique hold (as a StoredJob has them). */
export interface Placement {
  delayMs: number;
  priority?: number;
  expireInMs?: number;
  unique?: UniqueHold;
}

/** The job's envelope and placement; `id` names it (a schedule's occurrence), else a new one. */
export function packJob(job: Job, name: string, options: DispatchOptions, id?: string): { envelope: Envelope; placement: Placement } {
  const jobClass = job.constructor as JobClass;
  const declared = declaredSettings(jobClass, name);
  const queue = options.queue ?? declared.queue;
  validateQueueName(queue);
  // One reading of the clock for both: a new id's time is its createdAt (Redis stores it once, packed.ts).
  const now = Date.now();
  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    id: id ?? jobId(now),
    job: name,
    queue,
    data: encodeData(job, name),
    attempts: 0,
    maxTries: declared.maxTries,
    timeout: declared.timeout,
    backoff: declared.backoff,
    createdAt: now,
  };
  const priority = options.priority === undefined ? declared.priority : validPriority(options.priority, 'dispatch option priority');
  if (priority !== 0) envelope.priority = priority;
  const delay = delayMs(options.delay);
  if (delay > 0) envelope.availableAt = envelope.createdAt + delay;
  // Its tries continue the trace it was dispatched in (tracing.ts).
  const trace = activeTrace();
  if (trace) envelope.trace = trace;
  const placement: Placement = { delayMs: delay };
  if (priority !== 0) placement.priority = priority;
  if (declared.expireAfterMs !== null) placement.expireInMs = delay + declared.expireAfterMs;
  if (declared.unique) placement.unique = uniqueHold(declared.unique, job, name);
  return { envelope, placement };
}

/**
 * A job id: a version 7 UUID, whose first 48 bits are the time in ms, so ids dispatched together sit
 * together in a database index (a random v4 id touches a random index page on every insert and
 * delete: SQLite at concurrency 50 ran at half speed with an index of v4 ids). The rest is random.
 */
export function jobId(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** The time in ms that jobId() wrote into `id`; NaN for an id that is not a version 7 UUID. */
export function jobIdTime(id: string): number {
  return id.length === 36 && id.charCodeAt(14) === 0x37 ? parseInt(id.slice(0, 8) + id.slice(9, 13), 16) : Number.NaN;
}
