/**
 * The scheduler every worker runs beside its jobs (SPEC 12): about once a second, and just after
 * each schedule's next occurrence, it reads its connection's schedules and their cursors and moves
 * each due one on to its latest occurrence, storing that occurrence's job in the same atomic step
 * (ScheduleStore.advance). However many workers run, the cursor moves once per occurrence, so each
 * occurrence is one job; restarts and deploys cannot double it, and a killed worker loses nothing
 * (the next one to look moves the cursor).
 *
 * Occurrences that came due while no worker ran are missed: a schedule fires only its latest
 * occurrence, and only while it is on time (at most GRACE_MS late), unless its `missed` is 'once':
 * then the latest one runs, late, once. A schedule seen for the first time starts from now.
 */
import type { Logger } from 'pino';
import type { MissedPolicy, Rule } from '../config/schedule.ts';
import type { Driver, StoredJob } from '../contract/driver.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { isQueueError } from '../errors.ts';
import type { QueueManager } from './manager.ts';
import { cursorOf, occurrenceJob, schedulesOf, type Schedule } from './schedules.ts';

/** How late an occurrence may be fired and still count as on time: a slow tick, a restart. */
export const GRACE_MS = 10_000;
/** The longest a scheduler waits between looks (a schedule added at run time is seen within it). */
const TICK_MS = 1_000;
/** Just after an occurrence, so every worker's clock has passed it. */
const AFTER_OCCURRENCE_MS = 5;

/** What to do with a schedule now: move its cursor on to occurrence `at`, firing its job or not; null: nothing is due. */
export function dueOccurrence(rule: Rule, missed: MissedPolicy, lastAt: number | null, now: number): { at: number; fire: boolean } | null {
  const latest = rule.latestAtOrBefore(now);
  if (latest === null || (lastAt !== null && latest <= lastAt)) return null;
  const onTime = now - latest <= GRACE_MS;
  return { at: latest, fire: onTime || (lastAt !== null && missed === 'once') };
}

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  /** Each problem is said once (a run-time schedule whose job is gone, an outage). */
  private readonly said = new Set<string>();

  constructor(
    private readonly manager: QueueManager,
    private readonly driver: Driver,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Stops looking; resolves once a look under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().then((next) => this.schedule(next), (error: unknown) => {
        // An outage is the worker's to report (once, with its retry time); anything else is said here, once.
        if (isQueueError(error, 'BACKEND_UNAVAILABLE')) this.log.debug({ err: (error as Error).message }, 'schedules: backend unavailable');
        else this.sayOnce(`schedules: ${(error as Error).message}`);
        this.schedule(TICK_MS);
      });
    }, ms);
    this.timer.unref();
  }

  /** One look: fires what is due; returns how long to wait before the next. */
  async tick(now = Date.now()): Promise<number> {
    const registry = await this.manager.registry();
    const { schedules, paused, problems } = await schedulesOf(this.manager, this.driver);
    for (const problem of problems) this.sayOnce(problem);
    const active = schedules.filter((s) => !paused.has(s.name));
    const states = await this.driver.schedules.states(active.map(cursorOf));
    let wait = TICK_MS;
    for (const [i, schedule] of active.entries()) {
      const lastAt = states[i]!.lastAt;
      const due = dueOccurrence(schedule.rule, schedule.missed, lastAt, now);
      if (due && !this.stopped) await this.fire(schedule, due, lastAt, registry);
      const next = schedule.rule.nextAfter(now);
      if (next !== null) wait = Math.min(wait, next - Date.now() + AFTER_OCCURRENCE_MS);
    }
    return Math.max(wait, AFTER_OCCURRENCE_MS);
  }

  /**
   * Moves one schedule on to `due`. A job that cannot be stored (a field that will not serialize, a
   * refused option) is said once and retried at the next look; the other schedules fire regardless.
   * An outage goes up to the tick (the worker reports it).
   */
  private async fire(schedule: Schedule, due: { at: number; fire: boolean }, lastAt: number | null, registry: JobRegistry): Promise<void> {
    let job: StoredJob | null = null;
    try {
      job = due.fire ? occurrenceJob(this.manager, registry, schedule, due.at) : null;
      const moved = await this.driver.schedules.advance(cursorOf(schedule), due.at, job);
      if (moved && job) this.log.info({ schedule: schedule.name, job: schedule.jobName, id: job.id, queue: job.queue, occurrence: due.at }, `schedule ${schedule.name}: dispatched ${schedule.jobName} ${job.id} for ${iso(due.at)}`);
      else if (moved && lastAt !== null) this.log.info({ schedule: schedule.name, occurrence: due.at }, `schedule ${schedule.name}: skipped ${iso(due.at)}, missed while no worker ran (missed: 'once' would run it)`);
    } catch (error) {
      if (isQueueError(error, 'BACKEND_UNAVAILABLE')) throw error;
      this.sayOnce(`schedule ${schedule.name}: ${(error as Error).message}`);
    }
  }

  private sayOnce(message: string): void {
    if (this.said.has(message)) return;
    this.said.add(message);
    this.log.warn(message);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
