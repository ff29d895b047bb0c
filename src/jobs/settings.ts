/**
 * A job's settings and every rule about them, in one place: what a class may declare (maxTries,
 * timeout, backoff, its queue), their limits and validation, the defaults the worker applies to
 * jobs that declare nothing (and the worker's flags that replace them), the options of one
 * dispatch (queue, connection, delay), and the rules that decide a job's fate, named like sentences.
 *
 * A setting the class declares travels in the envelope and wins; `null` there means "declared
 * none": the worker's flags, or BUILT_IN_DEFAULTS, apply. Times are seconds, as people write them.
 */
import { createHash } from 'node:crypto';
import { QueueError, UnrecoverableError } from '../errors.ts';

/** Seconds to wait before retry n: one number, one per retry (the last repeats), or a function. */
export type Backoff = number | readonly number[] | ((attempt: number) => number);

/** Options of dispatch() and Queue.push/later/bulk. */
export interface DispatchOptions {
  /** Overrides the class's `static queue`. */
  queue?: string;
  /** Overrides the class's `static connection` and the configured default. */
  connection?: string;
  /** Seconds from now, or the moment the job becomes available. */
  delay?: number | Date;
  /** Overrides the class's `static priority`: higher runs first, default 0. */
  priority?: number;
  /**
   * The application's own transaction (a kysely Transaction) on the same SQL database as the job's
   * connection: the job is stored inside it, and committed or rolled back with it.
   */
  transaction?: unknown;
  /**
   * A transaction run by Queue.transaction(): the job is stored once it has committed, and
   * dropped if it rolls back. For any backend (Redis included).
   */
  afterCommit?: unknown;
}

/** A length of time as people write it: seconds, or a number with a unit: '90s', '30m', '1h', '1d', '2w'. */
export type Duration = number | `${number}${'s' | 'm' | 'h' | 'd' | 'w'}`;

/**
 * How long the records of finished jobs are kept (SPEC 11): `completed` (and cancelled) ones for
 * that long and at most `count` per queue; `false` keeps none, the fastest path. Failures are kept
 * until pruned by hand, whatever this says.
 */
export type Keep = false | { completed?: Duration; count?: number };

/** Horizon keeps completed jobs an hour; so do we, and at most 1,000 per queue. */
export const DEFAULT_KEEP = { completed: 3_600, count: 1_000 } as const;

/** A done job's record: kept `keepMs`, among the newest `maxPerQueue` of its queue. */
export interface Retention {
  keepMs: number;
  maxPerQueue: number;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A Duration in ms; CONFIG_INVALID, naming `what`, for anything else. */
export function durationMs(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim()) : null;
  if (!match) throw new QueueError('CONFIG_INVALID', `${what} must be seconds or a duration like '90s', '30m', '1h', '1d' or '2w', got ${JSON.stringify(value)}`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/**
 * The retention of a done job: its class's `keep` where it says, the connection's elsewhere, the
 * defaults last; null when the class says `false`, or it says nothing and the connection does.
 */
export function retentionOf(jobKeep: Keep | undefined, connectionKeep: Keep | undefined, what: string): Retention | null {
  const keep = jobKeep ?? connectionKeep;
  if (keep === false) return null;
  if (keep !== undefined && (keep === null || typeof keep !== 'object')) throw new QueueError('CONFIG_INVALID', `${what}: keep must be false or { completed, count }, got ${JSON.stringify(keep)}`);
  const base = connectionKeep || {};
  const completed = keep?.completed ?? base.completed ?? DEFAULT_KEEP.completed;
  const count = keep?.count ?? base.count ?? DEFAULT_KEEP.count;
  if (!isInt(count, 0, 10_000_000)) throw new QueueError('CONFIG_INVALID', `${what}: keep.count must be a whole number from 0 to 10000000, got ${JSON.stringify(count)}`);
  return { keepMs: durationMs(completed, `${what}: keep.completed`), maxPerQueue: count };
}

/**
 * How a connection keeps the records of jobs that end without running to completion (cancelled,
 * expired): as its completed ones, or by the defaults where it keeps none of those (`keep: false`
 * is about the fast path of done jobs; a job that never ran is worth seeing).
 */
export function endedRetention(connectionKeep: Keep | undefined, what: string): Retention {
  // Only `false` keeps nothing; without it the defaults fill in whatever the connection leaves out.
  return retentionOf(undefined, connectionKeep === false ? undefined : connectionKeep, what)!;
}

/**
 * Per job class, its retention on a connection that keeps `connectionKeep`: computed once per class
 * (a class's `keep` is read when its first job is done).
 */
export function retentionByClass(connectionKeep: Keep | undefined): (jobClass: { keep?: Keep; name: string }) => Retention | null {
  const cache = new WeakMap<object, Retention | null>();
  return (jobClass) => {
    let retention = cache.get(jobClass);
    if (retention === undefined) {
      retention = retentionOf(jobClass.keep, connectionKeep, jobClass.name);
      cache.set(jobClass, retention);
    }
    return retention;
  };
}

/**
 * A unique job (SPEC 12): while one job of the class holds `key` on its queue, dispatching another
 * with the same key stores nothing and returns the holder's id. The holder lets go of the key when
 * it starts (`until: 'start'`) or finishes (`'done'`, the default: completed, failed, cancelled or
 * expired), or after `for`. `onDuplicate: 'replace'` makes a duplicate replace a holder that has not
 * started (a debounce).
 */
export interface UniqueRule<T = any> {
  key: (job: T) => string;
  for?: Duration;
  until?: 'start' | 'done';
  onDuplicate?: 'ignore' | 'replace';
}

/** What a job class may declare, as static fields (undefined: not declared). */
export interface DeclaredStatics {
  queue?: string;
  maxTries?: number;
  timeout?: number;
  backoff?: Backoff;
  priority?: number;
  unique?: UniqueRule;
  expireAfter?: Duration;
}

/** The settings one job runs with: the class's where declared, the worker's defaults elsewhere. */
export interface JobSettings {
  maxTries: number;
  /** Seconds. */
  timeout: number;
  /** Seconds before retry 1, 2, ...; the last value repeats. */
  backoff: number[];
}

/** Settings the worker applies to jobs whose class declares none. */
export type JobDefaults = JobSettings;

/** A class's settings as the envelope carries them: null where it declares none. */
export interface DeclaredSettings {
  queue: string;
  maxTries: number | null;
  timeout: number | null;
  backoff: number[] | null;
  /** Where the job goes in its queue: not in the envelope's settings, in what stores it. */
  priority: number;
  /** ms after it may first run that a job not started by then expires; null: never. */
  expireAfterMs: number | null;
  unique: UniqueRule | null;
}

export const BUILT_IN_DEFAULTS: JobDefaults = { maxTries: 3, timeout: 60, backoff: [0] };

const DEFAULT_QUEUE = 'default';

export const LIMITS = {
  maxTries: 1_000,
  /** One week: longer jobs belong in a batch of smaller ones. */
  timeoutSeconds: 7 * 24 * 3600,
  backoffSeconds: 30 * 24 * 3600,
  backoffSteps: 100,
  attempts: 1_000_000,
  nameLength: 255,
  /** Ten years: a later job is a mistake (or a schedule's business), and every backend stores it exactly. */
  delaySeconds: 10 * 365 * 24 * 3600,
  /** Either side of 0; Redis keeps a priority and a FIFO position in one exact score below 2^53. */
  priority: 1_000_000,
  /** A worker's --prefetch: jobs started ahead of running them (see worker/holding-source.ts). */
  prefetch: 10_000,
} as const;

const PRIORITY_LIMIT = LIMITS.priority;

/**
 * A unique job holds its key from its push until it lets go of it: when a try starts (`until:
 * 'start'`) or when it finishes (`done`: completed, failed, cancelled, expired or cleared), in the
 * same atomic step, or when `forMs` runs out. While the key is held, a push of another job with the
 * same key on the same queue stores nothing and names the holder (a duplicate).
 */
export interface UniqueHold {
  /** Unique among the jobs of one queue (the API puts the job's name in front). At most 255 bytes. */
  key: string;
  /** The longest the hold lasts, ms from the push; absent: until the job lets go of it. */
  forMs?: number;
  until: 'start' | 'done';
  /**
   * On a duplicate whose holder has not started a try yet (ready or delayed): the holder is removed
   * and this job stored in its place, taking the key (a debounce). A holder that has started is kept.
   */
  replace?: boolean;
}


/** The worker's defaults, from its flags (--timeout, --max-tries, --backoff); unset flags keep the built-in ones. */
export function workerDefaults(flags: Partial<JobDefaults>): JobDefaults {
  return {
    timeout: flags.timeout ?? BUILT_IN_DEFAULTS.timeout,
    maxTries: flags.maxTries ?? BUILT_IN_DEFAULTS.maxTries,
    backoff: flags.backoff ?? BUILT_IN_DEFAULTS.backoff,
  };
}

interface CachedSettings extends DeclaredSettings {
  /** The static fields they were made from: a class whose fields change gets them made again. */
  from: unknown[];
}

/** Per class, its validated settings: a bulk of 1,000 jobs of one class resolves them once. */
const declared = new WeakMap<DeclaredStatics, CachedSettings>();

/** The settings a job class declares, validated (JOB_NOT_SERIALIZABLE names what is wrong). */
export function declaredSettings(jobClass: DeclaredStatics, jobName: string): DeclaredSettings {
  const cached = declared.get(jobClass);
  const from: CachedSettings['from'] = [jobClass.queue, jobClass.maxTries, jobClass.timeout, jobClass.backoff, jobClass.priority, jobClass.unique, jobClass.expireAfter];
  if (cached && cached.from.every((value, i) => value === from[i])) return cached;
  const bad = (what: string) => new QueueError('JOB_NOT_SERIALIZABLE', `${jobName}: ${what}`);
  const settings: CachedSettings = {
    from,
    queue: jobClass.queue ?? DEFAULT_QUEUE,
    maxTries: jobClass.maxTries ?? null,
    timeout: jobClass.timeout ?? null,
    backoff: resolveBackoff(jobClass.backoff, jobClass.maxTries),
    priority: jobClass.priority ?? 0,
    expireAfterMs: jobClass.expireAfter === undefined ? null : declaredDuration(jobClass.expireAfter, 'expireAfter', bad),
    unique: jobClass.unique === undefined ? null : validUniqueRule(jobClass.unique, bad),
  };
  validateSettings(jobName, settings);
  declared.set(jobClass, settings);
  return settings;
}

/** A priority: a whole number within PRIORITY_LIMIT either side of 0. */
export function validPriority(priority: unknown, what: string): number {
  if (!isInt(priority, -PRIORITY_LIMIT, PRIORITY_LIMIT)) throw new QueueError('INVALID_ARGUMENT', `${what} must be a whole number from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}, got ${JSON.stringify(priority)}`);
  return priority;
}

function validUniqueRule(rule: unknown, bad: (what: string) => QueueError): UniqueRule {
  const r = rule as Partial<UniqueRule> | null;
  if (r === null || typeof r !== 'object' || typeof r.key !== 'function') throw bad("unique must be { key: (job) => string, for?, until?: 'start' | 'done', onDuplicate?: 'ignore' | 'replace' }");
  if (r.until !== undefined && r.until !== 'start' && r.until !== 'done') throw bad(`unique.until must be 'start' or 'done', got ${JSON.stringify(r.until)}`);
  if (r.onDuplicate !== undefined && r.onDuplicate !== 'ignore' && r.onDuplicate !== 'replace') throw bad(`unique.onDuplicate must be 'ignore' or 'replace', got ${JSON.stringify(r.onDuplicate)}`);
  if (r.for !== undefined) declaredDuration(r.for, 'unique.for', bad);
  return r as UniqueRule;
}

/** The longest unique key a backend stores; a longer one is stored as its SHA-256. */
const UNIQUE_KEY_BYTES = 255;

/**
 * The hold a unique job takes on its queue: its key, from the class's `unique.key(job)`, scoped to
 * the job's name (two classes never share a key); a key too long to store is hashed.
 */
export function uniqueHold(rule: UniqueRule, job: unknown, jobName: string): UniqueHold {
  let key: unknown;
  try {
    key = rule.key(job);
  } catch (error) {
    throw new QueueError('JOB_NOT_SERIALIZABLE', `${jobName}: unique.key(job) threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if ((typeof key !== 'string' && typeof key !== 'number') || key === '') {
    throw new QueueError('JOB_NOT_SERIALIZABLE', `${jobName}: unique.key(job) must return a non-empty string, got ${JSON.stringify(key)}`);
  }
  let scoped = `${jobName}:${key}`;
  if (Buffer.byteLength(scoped) > UNIQUE_KEY_BYTES) scoped = `${jobName.slice(0, 180)}:sha256:${createHash('sha256').update(String(key)).digest('hex')}`;
  return {
    key: scoped,
    until: rule.until ?? 'done',
    ...(rule.for === undefined ? {} : { forMs: durationMs(rule.for, `${jobName}: unique.for`) }),
    ...(rule.onDuplicate === 'replace' ? { replace: true } : {}),
  };
}

/** Turns a class's `static backoff` into the list of seconds the envelope stores. */
export function resolveBackoff(backoff: Backoff | undefined, maxTries: number | undefined): number[] | null {
  if (backoff === undefined) return null;
  if (typeof backoff === 'number') return [backoff];
  if (typeof backoff === 'function') {
    // A function cannot travel in a payload: evaluate it for every retry the job can have.
    const retries = Math.min(Math.max((maxTries ?? BUILT_IN_DEFAULTS.maxTries) - 1, 1), LIMITS.backoffSteps);
    return Array.from({ length: retries }, (_, i) => backoff(i + 1));
  }
  return [...backoff];
}

function validateSettings(jobName: string, settings: Pick<DeclaredSettings, 'maxTries' | 'timeout' | 'backoff' | 'priority'>): void {
  const bad = (what: string) => new QueueError('JOB_NOT_SERIALIZABLE', `${jobName}: ${what}`);
  if (settings.maxTries !== null && !isInt(settings.maxTries, 1, LIMITS.maxTries)) throw bad(`maxTries must be a whole number from 1 to ${LIMITS.maxTries}`);
  if (settings.timeout !== null && !isNumber(settings.timeout, 0.001, LIMITS.timeoutSeconds)) throw bad(`timeout must be seconds > 0 and <= ${LIMITS.timeoutSeconds}`);
  if (settings.backoff !== null && !isBackoff(settings.backoff)) throw bad(`backoff must be seconds >= 0 (at most ${LIMITS.backoffSteps} steps)`);
  if (!isInt(settings.priority, -PRIORITY_LIMIT, PRIORITY_LIMIT)) throw bad(`priority must be a whole number from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}, got ${JSON.stringify(settings.priority)}`);
}

/** A duration a class declares, in ms; JOB_NOT_SERIALIZABLE naming the setting when it is not one. */
function declaredDuration(value: unknown, what: string, bad: (what: string) => QueueError): number {
  try {
    return durationMs(value, what);
  } catch (error) {
    throw bad((error as Error).message);
  }
}

/**
 * A queue name a worker can take: `queue work --queue a,b` splits on commas and trims spaces, so a
 * name with a comma, or with spaces at either end, could be stored but never consumed.
 */
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

/** The settings a job runs with: what its envelope declares, the worker's defaults for the rest. */
export function settingsFor(declaredInEnvelope: Pick<DeclaredSettings, 'maxTries' | 'timeout' | 'backoff'>, defaults: JobDefaults): JobSettings {
  return {
    maxTries: declaredInEnvelope.maxTries ?? defaults.maxTries,
    timeout: declaredInEnvelope.timeout ?? defaults.timeout,
    backoff: declaredInEnvelope.backoff ?? defaults.backoff,
  };
}

/** A job's own timeout in ms, or null for the worker's default: what sizes its lease in storage. */
export function timeoutMsOf(declaredInEnvelope: Pick<DeclaredSettings, 'timeout'>): number | null {
  return declaredInEnvelope.timeout === null ? null : Math.ceil(declaredInEnvelope.timeout * 1000);
}

/** A job reserved more times than it may run was lost mid-run before (killed worker, hang). */
export function hasExceededTries(attempt: number, settings: JobSettings): boolean {
  return attempt > settings.maxTries;
}

export function shouldRetry(error: unknown, attempt: number, settings: JobSettings): boolean {
  return !(error instanceof UnrecoverableError) && attempt < settings.maxTries;
}

/** Seconds to wait after failed attempt n (1-based) before the next try. */
export function retryDelaySeconds(attempt: number, settings: JobSettings): number {
  const { backoff } = settings;
  if (backoff.length === 0) return 0;
  return backoff[Math.min(Math.max(attempt, 1), backoff.length) - 1] ?? 0;
}

export function isBackoff(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= LIMITS.backoffSteps && value.every((s) => isNumber(s, 0, LIMITS.backoffSeconds));
}

export function isInt(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

export function isNumber(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}
