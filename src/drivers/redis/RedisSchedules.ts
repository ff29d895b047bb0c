/**
 * The schedules' store on Redis (SPEC 12). A schedule's cursor is a field of its queue's
 * `schedules` hash, so schedule.lua moves it and stores the occurrence's job (with push_placed.lua's own
 * code) in one script, in the queue's slot: Redis Cluster works, and two workers that fire one
 * occurrence at once store one job. Schedules added at run time and pauses live in two keys of a
 * slot of their own.
 */
import type { Cluster, Redis } from 'ioredis';
import type { ScheduleCursor, ScheduleSetting, ScheduleState, ScheduleStore, StoredJob } from '../../contract/driver.ts';
import type { RedisKeys } from './keys.ts';
import { encodePush } from './push-wire.ts';
import { runScript, type Reply } from './scripts.ts';

type Call = <T>(what: string, work: () => Promise<T>) => Promise<T>;

export class RedisSchedules implements ScheduleStore {
  constructor(
    private readonly client: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly call: Call,
    /** The set of queue names when a script can reach it (a single Redis); on a Cluster the client adds a name itself. */
    private readonly namesKeyInReach: boolean,
  ) {}

  advance(cursor: ScheduleCursor, at: number, job: StoredJob | null): Promise<boolean> {
    const cursors = this.keys.queue(cursor.queue).schedules;
    return this.call('advance a schedule', async () => {
      let keys = [cursors];
      let args: (string | number)[] = [cursor.name, Math.round(at)];
      if (job) {
        if (job.queue !== cursor.queue) throw new Error(`a schedule's job goes to its cursor's queue '${cursor.queue}', not '${job.queue}'`);
        if (!this.namesKeyInReach) await this.client.sadd(this.keys.queues, job.queue);
        const push = encodePush([job], (queue) => this.keys.queue(queue), this.namesKeyInReach ? this.keys.queues : undefined, true);
        keys = [...keys, ...push.keys];
        args = [...args, ...push.args];
      }
      const [moved] = await runScript<Reply[]>(this.client, 'schedule', keys, args);
      return moved === 1;
    });
  }

  states(cursors: ScheduleCursor[]): Promise<ScheduleState[]> {
    return this.call('read schedules', () => Promise.all(cursors.map(async ({ name, queue }) => {
      const [last, fired] = ((await this.client.hget(this.keys.queue(queue).schedules, name)) ?? ':').split(':');
      return { name, lastAt: last ? Number(last) : null, firedAt: fired ? Number(fired) : null };
    })));
  }

  settings(): Promise<ScheduleSetting[]> {
    return this.call('read schedules', async () => {
      const [definitions, paused] = await Promise.all([this.client.hgetall(this.keys.scheduleDefinitions), this.client.smembers(this.keys.pausedSchedules)]);
      const names = [...new Set([...Object.keys(definitions), ...paused])].sort();
      const isPaused = new Set(paused);
      return names.map((name) => ({ name, definition: definitions[name] ?? null, paused: isPaused.has(name) }));
    });
  }

  async define(name: string, definition: string): Promise<void> {
    await this.call('add a schedule', () => this.client.hset(this.keys.scheduleDefinitions, name, definition));
  }

  async undefine(name: string): Promise<boolean> {
    const removed = await this.call('remove a schedule', () => runScript<number>(this.client, 'unschedule', [this.keys.scheduleDefinitions, this.keys.pausedSchedules], [name]));
    return removed === 1;
  }

  async pause(name: string, paused: boolean): Promise<void> {
    await this.call(paused ? 'pause a schedule' : 'resume a schedule', () =>
      paused ? this.client.sadd(this.keys.pausedSchedules, name) : this.client.srem(this.keys.pausedSchedules, name));
  }
}
