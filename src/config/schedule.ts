/**
 * Recurring jobs declared in code (SPEC 12): config/schedule.ts default-exports defineSchedule([...]),
 * each entry a job class, its fields, and `cron` (5 fields, or 6 with seconds first, in a time zone)
 * or `every` ('30s', '5m': aligned to the epoch, so every worker agrees on the occurrences). Parsing,
 * time zones and daylight saving come from croner. The entries are validated once, here.
 */
import { Cron } from 'croner';
import { QueueError } from '../errors.ts';
import { isJobClass, type Job, type JobClass } from '../jobs/Job.ts';
import { durationMs, isInt, LIMITS, type Duration } from '../jobs/settings.ts';

/** What happens to the occurrences that came due while no worker ran: `skip` them, or run the latest `once`. */
export type MissedPolicy = 'skip' | 'once';

export interface ScheduleEntry<T extends Job = Job> {
  /** Unique among the schedules: the name of its cursor on the backend and in `queue schedule:*`. */
  name: string;
  job: JobClass<T>;
  /** The job's fields for each occurrence. */
  data?: Record<string, unknown>;
  /** 5 fields (minute hour day month weekday), or 6 with seconds first. */
  cron?: string;
  /** Instead of cron: every so long ('30s', '5m', '1h', or seconds), counted from the epoch. */
  every?: Duration;
  /** The IANA time zone of `cron` (default: UTC). */
  tz?: string;
  /** Default 'skip'. */
  missed?: MissedPolicy;
  /** Overrides the job's queue, connection and priority. */
  queue?: string;
  connection?: string;
  priority?: number;
}

/** The shortest `every`: a schedule fires at most once a second. */
const MIN_EVERY_MS = 1_000;

/** Validates the schedule of config/schedule.ts; returns it. */
export function defineSchedule(entries: ScheduleEntry<any>[]): ScheduleEntry[] {
  if (!Array.isArray(entries)) throw new QueueError('CONFIG_INVALID', 'defineSchedule() takes an array of schedules: [{ name, job, cron | every, ... }]');
  const names = new Set<string>();
  for (const entry of entries) {
    validateEntry(entry);
    if (names.has(entry.name)) throw new QueueError('CONFIG_INVALID', `two schedules are named '${entry.name}'; give each its own name`);
    names.add(entry.name);
  }
  return entries;
}

/** Throws CONFIG_INVALID, naming the schedule and what to fix, for an entry that is not one. */
export function validateEntry(entry: ScheduleEntry<any>): void {
  if (entry === null || typeof entry !== 'object') throw new QueueError('CONFIG_INVALID', `a schedule must be { name, job, cron | every, ... }, got ${JSON.stringify(entry)}`);
  const { name } = entry;
  if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.nameLength || name.trim() !== name) {
    throw new QueueError('CONFIG_INVALID', `a schedule's name must be 1 to ${LIMITS.nameLength} characters without spaces at either end, got ${JSON.stringify(name)}`);
  }
  const bad = (what: string) => new QueueError('CONFIG_INVALID', `schedule '${name}': ${what}`);
  if (!isJobClass(entry.job)) throw bad('job must be a job class (import it from app/jobs)');
  if (entry.data !== undefined && (entry.data === null || typeof entry.data !== 'object' || Array.isArray(entry.data))) throw bad('data must be an object of the job\'s fields');
  if ((entry.cron === undefined) === (entry.every === undefined)) throw bad("give it either cron: '0 8 * * *' or every: '30s'");
  if (entry.missed !== undefined && entry.missed !== 'skip' && entry.missed !== 'once') throw bad(`missed must be 'skip' or 'once', got ${JSON.stringify(entry.missed)}`);
  if (entry.priority !== undefined && !isInt(entry.priority, -LIMITS.priority, LIMITS.priority)) throw bad(`priority must be a whole number from -${LIMITS.priority} to ${LIMITS.priority}, got ${JSON.stringify(entry.priority)}`);
  ruleOf(entry);
}

/** When a schedule's occurrences are: every one a whole millisecond, the same on every worker. */
export interface Rule {
  /** How people read it: `cron 0 8 * * * (Europe/Berlin)`, `every 30s`. */
  readonly text: string;
  /** The latest occurrence at or before `ms`, or null if none. */
  latestAtOrBefore(ms: number): number | null;
  /** The first occurrence after `ms`, or null if none. */
  nextAfter(ms: number): number | null;
}

/** The entry's rule; CONFIG_INVALID naming the schedule when its cron, every or tz is not one. */
export function ruleOf(entry: Pick<ScheduleEntry, 'name' | 'cron' | 'every' | 'tz'>): Rule {
  const bad = (what: string) => new QueueError('CONFIG_INVALID', `schedule '${entry.name}': ${what}`);
  if (entry.tz !== undefined && !isTimeZone(entry.tz)) throw bad(`tz ${JSON.stringify(entry.tz)} is not an IANA time zone like 'Europe/Berlin'`);
  if (entry.every !== undefined) {
    if (entry.tz !== undefined) throw bad('tz goes with cron; every counts from the epoch, whatever the zone');
    let ms: number;
    try {
      ms = durationMs(entry.every, 'every');
    } catch (error) {
      throw bad((error as Error).message);
    }
    if (ms < MIN_EVERY_MS) throw bad(`every must be at least 1s, got ${JSON.stringify(entry.every)}`);
    return {
      text: `every ${typeof entry.every === 'number' ? `${entry.every}s` : entry.every}`,
      latestAtOrBefore: (at) => Math.floor(at / ms) * ms,
      nextAfter: (at) => (Math.floor(at / ms) + 1) * ms,
    };
  }
  const expression = typeof entry.cron === 'string' ? entry.cron.trim() : '';
  const fields = expression.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw bad(`cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), got ${JSON.stringify(entry.cron)}`);
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone: entry.tz ?? 'UTC', paused: true });
  } catch (error) {
    throw bad(`cron ${JSON.stringify(entry.cron)} is not valid: ${(error as Error).message}`);
  }
  return {
    text: `cron ${expression}${entry.tz ? ` (${entry.tz})` : ''}`,
    // croner's previous and next runs leave out the moment they start from.
    latestAtOrBefore: (at) => cron.previousRuns(1, new Date(at + 1))[0]?.getTime() ?? null,
    nextAfter: (at) => cron.nextRun(new Date(at))?.getTime() ?? null,
  };
}

function isTimeZone(tz: unknown): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
