/**
 * A connection's schedules (SPEC 12): those of config/schedule.ts whose jobs go to it, and those
 * added at run time (Queue.schedules.upsert), stored on its backend as a definition. What the
 * scheduler fires, `queue schedule:*` shows and changes, and Queue.schedules offers.
 */
import { createHash } from 'node:crypto';
import { ruleOf, validateEntry, type MissedPolicy, type Rule, type ScheduleEntry } from '../config/schedule.ts';
import type { Driver, ScheduleCursor, ScheduleState, StoredJob } from '../contract/driver.ts';
import { QueueError } from '../errors.ts';
import type { Duration } from '../jobs/settings.ts';
import type { JobClass } from '../jobs/Job.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { decodeData, encodeData, hydrate, payloadFields } from '../jobs/serialize.ts';
import { declaredSettings, validateQueueName } from '../jobs/settings.ts';
import type { QueueManager } from './manager.ts';

/** A schedule made ready to fire: its job class, fields, rule and where its jobs go. */
export interface Schedule {
  name: string;
  /** Declared in config/schedule.ts, or added at run time. */
  source: 'config' | 'runtime';
  jobName: string;
  jobClass: JobClass;
  fields: Record<string, unknown>;
  rule: Rule;
  missed: MissedPolicy;
  queue: string;
  connection: string;
  priority?: number;
}

/** A run-time schedule as its backend keeps it: the job by name, its fields encoded as a payload's are. */
interface Definition {
  job: string;
  data: Record<string, unknown>;
  cron?: string;
  every?: Duration;
  tz?: string;
  missed?: MissedPolicy;
  queue?: string;
  priority?: number;
}

export interface ConnectionSchedules {
  schedules: Schedule[];
  paused: Set<string>;
  /** Run-time schedules that cannot be fired here (their job is gone, or their definition is not one), and why. */
  problems: string[];
}

/** config/schedule.ts's entries (loaded once per manager), resolved: a scheduler looks every second. */
const resolvedConfig = new WeakMap<ScheduleEntry[], Schedule[]>();

/** The schedules of config/schedule.ts, checked against the registry (CONFIG_INVALID names what is wrong): no backend needed. */
export async function configSchedules(manager: QueueManager): Promise<Schedule[]> {
  const entries = await manager.schedule();
  let resolved = resolvedConfig.get(entries);
  if (!resolved) {
    const registry = await manager.registry();
    resolved = entries.map((entry) => resolve(manager, registry, entry, 'config'));
    resolvedConfig.set(entries, resolved);
  }
  return resolved;
}

/** The schedules whose jobs go to `driver`'s connection, and which of them are paused. */
export async function schedulesOf(manager: QueueManager, driver: Driver): Promise<ConnectionSchedules> {
  const registry = await manager.registry();
  const fromConfig = await configSchedules(manager);
  const configNames = new Set(fromConfig.map((s) => s.name));
  const settings = await driver.schedules.settings();
  const problems: string[] = [];
  const runtime = settings.flatMap(({ name, definition }) => {
    if (definition === null || configNames.has(name)) return [];
    try {
      return [fromDefinition(manager, registry, name, definition, driver.connection)];
    } catch (error) {
      problems.push(`schedule '${name}' (added at run time) is not fired: ${(error as Error).message}`);
      return [];
    }
  });
  return {
    schedules: [...fromConfig.filter((s) => s.connection === driver.connection), ...runtime].sort((a, b) => a.name.localeCompare(b.name)),
    paused: new Set(settings.filter((s) => s.paused).map((s) => s.name)),
    problems,
  };
}

function resolve(manager: QueueManager, registry: JobRegistry, entry: ScheduleEntry, source: Schedule['source'], connection?: string): Schedule {
  const bad = (what: string) => new QueueError('CONFIG_INVALID', `schedule '${entry.name}': ${what}`);
  const jobName = registry.nameOf(entry.job);
  if (!jobName) throw bad(`${entry.job.name} is not a registered job: default-export it from a file in ${manager.config.jobs}`);
  const fields = entry.data ?? {};
  const known = new Set(payloadFields(new entry.job()));
  const unknown = Object.keys(fields).filter((key) => !known.has(key));
  if (unknown.length > 0) throw bad(`${jobName} has no field ${unknown.map((k) => `'${k}'`).join(', ')}; its fields are: ${[...known].join(', ') || 'none'}`);
  const queue = entry.queue ?? declaredSettings(entry.job, jobName).queue;
  validateQueueName(queue);
  return {
    name: entry.name,
    source,
    jobName,
    jobClass: entry.job,
    fields,
    rule: ruleOf(entry),
    missed: entry.missed ?? 'skip',
    queue,
    connection: connection ?? manager.connectionName(entry.connection ?? entry.job.connection),
    ...(entry.priority === undefined ? {} : { priority: entry.priority }),
  };
}

function fromDefinition(manager: QueueManager, registry: JobRegistry, name: string, text: string, connection: string): Schedule {
  const definition = JSON.parse(text) as Definition;
  const { jobClass } = registry.require(definition.job);
  const { job: _job, data, ...rest } = definition;
  return resolve(manager, registry, { ...rest, name, job: jobClass, data: decodeData(data) }, 'runtime', connection);
}

/** Where the schedule's cursor lives. */
export function cursorOf(schedule: Schedule): ScheduleCursor {
  return { name: schedule.name, queue: schedule.queue };
}

/**
 * The id of one occurrence's job: the same on every worker, so a push sent twice stores it once.
 * Shaped like the ids dispatch() makes (a UUID whose first 48 bits are a time in ms): here the
 * occurrence's time, then a hash of the connection, the schedule and that time.
 */
export function occurrenceId(schedule: Pick<Schedule, 'connection' | 'name'>, at: number): string {
  const time = at.toString(16).padStart(12, '0');
  const hash = createHash('sha256').update(`${schedule.connection}\n${schedule.name}\n${at}`).digest('hex');
  const variant = ((Number.parseInt(hash[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-8${hash.slice(0, 3)}-${variant}${hash.slice(4, 7)}-${hash.slice(7, 19)}`;
}

/** The occurrence a job id was made for (occurrenceId), from its first 48 bits. */
export function occurrenceOf(id: string): number {
  return Number.parseInt(id.replace('-', '').slice(0, 12), 16);
}

/** The job of one occurrence, ready to store (`at` undefined: a run now, with a new id). */
export function occurrenceJob(manager: QueueManager, registry: JobRegistry, schedule: Schedule, at?: number): StoredJob {
  const job = hydrate(new schedule.jobClass(), schedule.fields);
  const options = { queue: schedule.queue, connection: schedule.connection, ...(schedule.priority === undefined ? {} : { priority: schedule.priority }) };
  return manager.pack(registry, job, options, at === undefined ? undefined : occurrenceId(schedule, at)).packed.stored;
}

/** A schedule as `queue schedule:list` and Queue.schedules.list() show it. */
export interface ScheduleInfo {
  name: string;
  job: string;
  rule: string;
  queue: string;
  source: Schedule['source'];
  paused: boolean;
  /** ms since the epoch; null when the rule has no more. */
  nextRunAt: number | null;
  /** The last occurrence fired or skipped, and when the last one's job was stored. */
  lastAt: number | null;
  firedAt: number | null;
}

export async function listSchedules(manager: QueueManager, connection?: string): Promise<{ schedules: ScheduleInfo[]; problems: string[] }> {
  const driver = await manager.driver(connection);
  const { schedules, paused, problems } = await schedulesOf(manager, driver);
  const states = new Map<string, ScheduleState>((await driver.schedules.states(schedules.map(cursorOf))).map((s) => [s.name, s]));
  const now = Date.now();
  return {
    problems,
    schedules: schedules.map((s) => ({
      name: s.name,
      job: s.jobName,
      rule: s.rule.text,
      queue: s.queue,
      source: s.source,
      paused: paused.has(s.name),
      nextRunAt: s.rule.nextAfter(now),
      lastAt: states.get(s.name)?.lastAt ?? null,
      firedAt: states.get(s.name)?.firedAt ?? null,
    })),
  };
}

/** The schedule named `name` on the connection; SCHEDULE_NOT_FOUND naming the ones there are. */
export async function findSchedule(manager: QueueManager, driver: Driver, name: string): Promise<Schedule> {
  const { schedules } = await schedulesOf(manager, driver);
  const schedule = schedules.find((s) => s.name === name);
  if (!schedule) {
    const known = schedules.map((s) => s.name);
    throw new QueueError('SCHEDULE_NOT_FOUND', `no schedule named '${name}' on connection '${driver.connection}'; ${known.length > 0 ? `there are: ${known.join(', ')}` : 'there are none (see config/schedule.ts)'}`);
  }
  return schedule;
}

/** Stores one occurrence now, outside the schedule (its cursor does not move); returns the job's id. */
export async function runSchedule(manager: QueueManager, name: string, connection?: string): Promise<string> {
  const driver = await manager.driver(connection);
  const schedule = await findSchedule(manager, driver, name);
  const [pushed] = await driver.push([occurrenceJob(manager, await manager.registry(), schedule)]);
  return pushed!.id;
}

export async function pauseSchedule(manager: QueueManager, name: string, paused: boolean, connection?: string): Promise<void> {
  const driver = await manager.driver(connection);
  await findSchedule(manager, driver, name);
  await driver.schedules.pause(name, paused);
}

/** Adds or replaces a run-time schedule on its connection (not one of config/schedule.ts). */
export async function upsertSchedule(manager: QueueManager, entry: ScheduleEntry<any>): Promise<void> {
  validateEntry(entry);
  if ((await manager.schedule()).some((e) => e.name === entry.name)) {
    throw new QueueError('INVALID_ARGUMENT', `schedule '${entry.name}' is declared in config/schedule.ts; change it there, or give this one another name`);
  }
  const registry = await manager.registry();
  const schedule = resolve(manager, registry, entry, 'runtime');
  const job = hydrate(new schedule.jobClass(), schedule.fields);
  const definition: Definition = {
    job: schedule.jobName,
    data: encodeData(job, schedule.jobName),
    ...(entry.cron === undefined ? {} : { cron: entry.cron }),
    ...(entry.every === undefined ? {} : { every: entry.every }),
    ...(entry.tz === undefined ? {} : { tz: entry.tz }),
    ...(entry.missed === undefined ? {} : { missed: entry.missed }),
    ...(entry.queue === undefined ? {} : { queue: entry.queue }),
    ...(entry.priority === undefined ? {} : { priority: entry.priority }),
  };
  await (await manager.driver(schedule.connection)).schedules.define(entry.name, JSON.stringify(definition));
}

/** Removes a run-time schedule; one of config/schedule.ts is removed there. */
export async function removeSchedule(manager: QueueManager, name: string, connection?: string): Promise<void> {
  const driver = await manager.driver(connection);
  if (await driver.schedules.undefine(name)) return;
  if ((await manager.schedule()).some((e) => e.name === name)) {
    throw new QueueError('INVALID_ARGUMENT', `schedule '${name}' is declared in config/schedule.ts; remove it there (or pause it: queue schedule:pause ${name})`);
  }
  throw new QueueError('SCHEDULE_NOT_FOUND', `no schedule named '${name}' was added at run time on connection '${driver.connection}'`);
}
