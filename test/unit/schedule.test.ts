/**
 * Schedules' rules (SPEC 12): what defineSchedule accepts, when a cron or every rule's occurrences
 * are (time zones and daylight saving by croner), what a scheduler does with a due one, and the
 * ids of occurrences.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineSchedule, ruleOf, type ScheduleEntry } from '../../src/config/schedule.ts';
import { Job } from '../../src/jobs/Job.ts';
import { dueOccurrence, GRACE_MS } from '../../src/queue/scheduler.ts';
import { occurrenceId, occurrenceOf } from '../../src/queue/schedules.ts';

class Ping extends Job {
  handle(): void {}
}

const at = (iso: string) => Date.parse(iso);

describe('defineSchedule', () => {
  it('accepts cron or every entries and refuses what is not one, naming the schedule and the fix', () => {
    const ok: ScheduleEntry[] = [{ name: 'a', job: Ping, cron: '0 8 * * *', tz: 'Europe/Berlin' }, { name: 'b', job: Ping, every: '30s', missed: 'once' }];
    assert.equal(defineSchedule(ok), ok);
    const refused: [unknown, RegExp][] = [
      [[{ name: 'a', job: Ping }], /schedule 'a': give it either cron: '0 8 \* \* \*' or every: '30s'/],
      [[{ name: 'a', job: Ping, cron: '* * * * *', every: '1m' }], /give it either cron/],
      [[{ name: 'a', job: Ping, cron: '0 8 * *' }], /schedule 'a': cron must have 5 fields \(minute hour day month weekday\) or 6 \(seconds first\), got "0 8 \* \*"/],
      [[{ name: 'a', job: Ping, cron: '61 * * * *' }], /schedule 'a': cron "61 \* \* \* \*" is not valid: .*minute/],
      [[{ name: 'a', job: Ping, cron: '* * * * *', tz: 'Mars/Base' }], /schedule 'a': tz "Mars\/Base" is not an IANA time zone like 'Europe\/Berlin'/],
      [[{ name: 'a', job: Ping, every: '500ms' }], /schedule 'a': every must be seconds or a duration/],
      [[{ name: 'a', job: Ping, every: 0.5 }], /schedule 'a': every must be at least 1s/],
      [[{ name: 'a', job: Ping, every: '1m', tz: 'UTC' }], /tz goes with cron/],
      [[{ name: 'a', job: Ping, every: '1m', missed: 'all' }], /schedule 'a': missed must be 'skip' or 'once', got "all"/],
      [[{ name: 'a', job: class {}, every: '1m' }], /schedule 'a': job must be a job class/],
      [[{ name: 'a', job: Ping, every: '1m' }, { name: 'a', job: Ping, every: '2m' }], /two schedules are named 'a'/],
      [[{ name: ' a', job: Ping, every: '1m' }], /a schedule's name must be 1 to 255 characters/],
    ];
    for (const [entries, message] of refused) assert.throws(() => defineSchedule(entries as ScheduleEntry[]), message);
  });
});

describe('rules', () => {
  it('cron in a time zone, with daylight saving: 08:00 in Berlin is 07:00 UTC in winter, 06:00 in summer', () => {
    const rule = ruleOf({ name: 'digest', cron: '0 8 * * *', tz: 'Europe/Berlin' });
    assert.equal(rule.nextAfter(at('2026-12-06T07:00:00Z')), at('2026-12-07T07:00:00Z'), 'after an occurrence: the next day');
    assert.equal(rule.latestAtOrBefore(at('2026-12-06T07:00:00Z')), at('2026-12-06T07:00:00Z'), 'at an occurrence: that one');
    assert.equal(rule.latestAtOrBefore(at('2026-12-06T06:59:59.999Z')), at('2026-12-05T07:00:00Z'));
    assert.equal(rule.nextAfter(at('2026-07-01T00:00:00Z')), at('2026-07-01T06:00:00Z'));
    assert.equal(rule.text, 'cron 0 8 * * * (Europe/Berlin)');
  });

  it('cron with 6 fields counts seconds first; every counts from the epoch', () => {
    const seconds = ruleOf({ name: 's', cron: '*/15 * * * * *' });
    assert.equal(seconds.latestAtOrBefore(at('2026-12-06T07:00:29.500Z')), at('2026-12-06T07:00:15Z'));
    const every = ruleOf({ name: 'e', every: '30s' });
    assert.equal(every.latestAtOrBefore(at('2026-12-06T07:00:29.500Z')), at('2026-12-06T07:00:00Z'));
    assert.equal(every.nextAfter(at('2026-12-06T07:00:30Z')), at('2026-12-06T07:01:00Z'));
    assert.equal(every.text, 'every 30s');
  });
});

describe('what a scheduler does with a schedule', () => {
  const rule = ruleOf({ name: 'digest', cron: '0 8 * * *' });
  const eight = at('2026-12-06T08:00:00Z');

  it('fires the latest occurrence once it is due, on time; nothing before it, nothing again', () => {
    assert.deepEqual(dueOccurrence(rule, 'skip', at('2026-12-05T08:00:00Z'), eight + 300), { at: eight, fire: true });
    assert.equal(dueOccurrence(rule, 'skip', eight, eight + 300), null, 'the cursor is there already');
    assert.equal(dueOccurrence(rule, 'skip', at('2026-12-05T08:00:00Z'), eight - 1), null, 'not yet due');
  });

  it("skips what came due while no worker ran, or with missed: 'once' runs the latest once; a new schedule starts from now", () => {
    const late = eight + GRACE_MS + 1;
    assert.deepEqual(dueOccurrence(rule, 'skip', at('2026-12-01T08:00:00Z'), late), { at: eight, fire: false });
    assert.deepEqual(dueOccurrence(rule, 'once', at('2026-12-01T08:00:00Z'), late), { at: eight, fire: true });
    assert.deepEqual(dueOccurrence(rule, 'once', null, late), { at: eight, fire: false }, 'first seen after its time: nothing was missed');
    assert.deepEqual(dueOccurrence(rule, 'skip', null, eight + 300), { at: eight, fire: true }, 'first seen on time: it fires');
  });

  it("an occurrence's id is the same on every worker, carries its time, and differs per schedule and connection", () => {
    const id = occurrenceId({ connection: 'redis', name: 'digest' }, eight);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(occurrenceId({ connection: 'redis', name: 'digest' }, eight), id);
    assert.equal(occurrenceOf(id), eight);
    assert.notEqual(occurrenceId({ connection: 'redis', name: 'other' }, eight), id);
    assert.notEqual(occurrenceId({ connection: 'database', name: 'digest' }, eight), id);
  });
});

describe('schedules checked against the registry at start', () => {
  it('a job that is not registered, or a field the job does not have, is one line naming the schedule', async () => {
    const { QueueManager } = await import('../../src/queue/manager.ts');
    const { configSchedules } = await import('../../src/queue/schedules.ts');
    const { fixtureProject } = await import('../helpers/cli.ts');
    const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
    const manager = await QueueManager.fromProject(fixtureProject);
    const withEntries = (entries: ScheduleEntry[]) => Object.assign(manager, { schedule: async () => entries });
    try {
      withEntries([{ name: 'ok', job: Record, data: { label: 'x' }, every: '1m' }]);
      assert.deepEqual((await configSchedules(manager)).map((s) => [s.name, s.jobName, s.queue]), [['ok', 'Record', 'default']]);
      withEntries([{ name: 'typo', job: Record, data: { lable: 'x' }, every: '1m' }]);
      await assert.rejects(configSchedules(manager), /schedule 'typo': Record has no field 'lable'; its fields are: label/);
      withEntries([{ name: 'stray', job: Ping, every: '1m' }]);
      await assert.rejects(configSchedules(manager), /schedule 'stray': Ping is not a registered job: default-export it from a file in app\/jobs/);
    } finally {
      await manager.close();
    }
  });
});

describe('a scheduler look', () => {
  it('fires each due schedule once; one whose job cannot be stored is said once and does not stop the others', async () => {
    const pino = (await import('pino')).default;
    const { QueueManager } = await import('../../src/queue/manager.ts');
    const { Scheduler } = await import('../../src/queue/scheduler.ts');
    const { MemoryDriver } = await import('../helpers/memory-driver.ts');
    const { fixtureProject } = await import('../helpers/cli.ts');
    const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
    const manager = await QueueManager.fromProject(fixtureProject);
    const driver = new MemoryDriver();
    Object.assign(manager, {
      schedule: async () => [
        { name: 'broken', job: Record, data: { label: () => 'not data' }, every: '1s' },
        { name: 'fine', job: Record, data: { label: 'fine' }, every: '1s' },
      ],
      connectionName: () => driver.connection,
    });
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
    const scheduler = new Scheduler(manager, driver, log);
    try {
      const now = Date.now();
      await scheduler.tick(now);
      await scheduler.tick(now);
      await scheduler.tick(now + 1_000);
      assert.equal(driver.rows.size, 2, 'the fine schedule fired once per occurrence');
      assert.deepEqual(warnings, ["schedule broken: Record: field 'label' is a function; store plain data and look the behaviour up in handle()"]);
    } finally {
      await manager.close();
    }
  });
});
