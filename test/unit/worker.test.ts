/**
 * The worker loop in-process, on the in-memory driver: what it takes, when it stops and why, how it
 * lives through a backend that fails, how it hands jobs back when told to stop at once, and what it
 * tells its listeners (every event of events.ts).
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { beforeEach, describe, it } from 'node:test';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { stopReason } from '../../src/worker/stop.ts';
import { eventually, ran, stored, worker } from '../helpers/in-process.ts';

describe('the worker loop', () => {
  beforeEach(() => {
    ran.length = 0;
  });

  it('runs every job and stops when the queue is empty, with the reason and exit code 0', async () => {
    const driver = new MemoryDriver();
    const jobs = [stored('Quick'), stored('Quick'), stored('Quick')];
    await driver.push(jobs);
    const w = worker(driver, { concurrency: 2 });
    const reason = await w.run();
    assert.deepEqual([reason.code, reason.exitCode], ['empty', 0]);
    assert.deepEqual(ran, jobs.map((job) => `Quick ${job.id} 1`));
    assert.equal(w.jobsProcessed, 3);
    assert.equal(driver.rows.size, 0, 'every job acknowledged');
  });

  it('stopping when empty, it counts the jobs of its queues that still wait for their time', async () => {
    const driver = new MemoryDriver();
    const later = [{ ...stored('Quick'), delayMs: 60_000 }, { ...stored('Quick'), delayMs: 60_000 }];
    await driver.push([stored('Quick'), ...later, { ...stored('Quick', {}, 'other'), delayMs: 60_000 }]);
    const reason = await worker(driver).run();
    assert.deepEqual([reason.code, reason.exitCode], ['empty', 0]);
    assert.equal(reason.message, "the queue is empty; 2 job(s) still wait for their time (a delay, or a retry's backoff)");
    assert.equal(ran.length, 1);
  });

  it('names the queues it does not take that have ready jobs: in the stop line, and once while idle', async () => {
    const driver = new MemoryDriver();
    await driver.push([stored('Quick', {}, 'emails'), stored('Quick', {}, 'emails')]);
    const reason = await worker(driver).run();
    assert.equal(reason.message, 'the queue is empty; queue emails (2 ready) has jobs this worker does not take; add it: --queue default,emails');

    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line).msg) });
    const idle = worker(driver, { stopWhenEmpty: false }, log);
    const running = idle.run();
    await new Promise((resolve) => setTimeout(resolve, 200));
    idle.stop(stopReason('signal', 'test'));
    await running;
    assert.deepEqual(lines, ["this worker's queues are empty, but queue emails (2 ready) has jobs this worker does not take; add it: --queue default,emails"]);
  });

  it('--once runs one job and --max-jobs N runs N, leaving the rest untaken', async () => {
    const driver = new MemoryDriver();
    await driver.push(Array.from({ length: 5 }, () => stored('Quick')));
    assert.equal((await worker(driver, { once: true, stopWhenEmpty: false, concurrency: 4 }).run()).code, 'once');
    assert.equal(ran.length, 1);
    assert.equal((await worker(driver, { maxJobs: 3, stopWhenEmpty: false, concurrency: 2 }).run()).code, 'max-jobs');
    assert.equal(ran.length, 4);
    assert.equal(driver.rows.size, 1);
    assert.ok([...driver.rows.values()].every((row) => row.token === null), 'no job taken that the worker would not run');
  });

  it('takes from the first queue of its list that has jobs, and skips a paused one', async () => {
    const driver = new MemoryDriver();
    const [low, high, paused] = [stored('Quick', {}, 'low'), stored('Quick', {}, 'high'), stored('Quick', {}, 'paused')];
    await driver.push([low, paused, high]);
    await driver.pause('paused');
    await worker(driver, { queues: ['paused', 'high', 'low'] }).run();
    assert.deepEqual(ran, [`Quick ${high.id} 1`, `Quick ${low.id} 1`]);
    assert.equal(driver.rows.get(paused.id)?.attempts, 0, 'the paused queue was not touched');
  });

  it('stops after `queue restart` with reason restart, finishing what it runs', async () => {
    const driver = new MemoryDriver();
    await driver.push([stored('Waits', { ms: 100 })]);
    const w = worker(driver, { stopWhenEmpty: false });
    const running = w.run();
    await eventually('a job started', () => ran.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await driver.requestRestart();
    const reason = await running;
    assert.deepEqual([reason.code, reason.exitCode], ['restart', 0]);
    assert.equal(driver.rows.size, 0, 'the running job finished and was acknowledged');
  });

  it('an idle worker acts on `queue restart` and on a resume within about a second, not after its --sleep', async () => {
    const within = <T>(promise: Promise<T>, what: string) => Promise.race([
      promise,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within 5 s (its --sleep is 60 s)`)), 5_000).unref()),
    ]);
    const driver = new MemoryDriver();
    await driver.pause('default');
    await driver.push([stored('Quick')]);
    const w = worker(driver, { stopWhenEmpty: false, sleep: 60 });
    const running = w.run();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(ran.length, 0, 'its only queue is paused');
      await driver.resume('default');
      await eventually("the resumed queue's job ran (its --sleep is 60 s)", () => ran.length > 0);
      await driver.requestRestart();
      const reason = await within(running, 'the restart');
      assert.equal(reason.code, 'restart');
    } finally {
      w.stop(stopReason('signal', 'the test is over'));
      await running;
    }
  });

  it('lives through a backend that fails: it backs off, carries on, and loses nothing', async () => {
    const driver = new MemoryDriver();
    const jobs = [stored('Quick'), stored('Quick')];
    await driver.push(jobs);
    driver.failNext(2);
    const reason = await worker(driver).run();
    assert.equal(reason.code, 'empty');
    assert.deepEqual(new Set(ran), new Set(jobs.map((job) => `Quick ${job.id} 1`)));
  });

  it('stop() lets the running job finish; stopNow() hands it back without using a try', async () => {
    const driver = new MemoryDriver();
    const [job] = [stored('Waits', { ms: 60_000 })];
    await driver.push([job!]);
    const w = worker(driver, { stopWhenEmpty: false });
    const running = w.run();
    await eventually('a job started', () => ran.length > 0);
    w.stopNow();
    const reason = await running;
    assert.deepEqual([reason.code, reason.exitCode], ['interrupted', 130]);
    const row = driver.rows.get(job!.id)!;
    assert.deepEqual([row.token, row.attempts], [null, 0], 'back on its queue with its try refunded');
  });

  it('a job that throws is released with its backoff, then failed for good with its failed() hook', async () => {
    const driver = new MemoryDriver();
    const job = stored('Flaky', {}, 'default', { maxTries: 2, backoff: [0] });
    await driver.push([job]);
    await worker(driver).run();
    assert.deepEqual(ran, [`Flaky ${job.id} 1`, `Flaky ${job.id} 2`, `failed-hook ${job.id} Flaky: down`]);
    assert.match(driver.failedRecords.get(job.id)!.error, /^Error: Flaky: down/);
  });

  it('tells its listeners each job\'s story: ready, then started and completed, retrying or failed', async () => {
    const driver = new MemoryDriver();
    const [quick, flaky] = [stored('Quick'), stored('Flaky', {}, 'default', { maxTries: 2, backoff: [0] })];
    await driver.push([quick, flaky]);
    const w = worker(driver);
    const events: string[] = [];
    let completed: unknown;
    w.on('ready', () => events.push('ready'));
    w.on('started', (run) => events.push(`started ${run.job} ${run.attempt}`));
    w.on('completed', (run) => {
      events.push(`completed ${run.job} ${run.attempt}`);
      completed = run;
    });
    w.on('retrying', (run) => events.push(`retrying ${run.job} ${run.attempt} after ${run.error.message}, in ${run.delay}s`));
    w.on('failed', (run) => events.push(`failed ${run.job} ${run.attempt} after ${run.error.message}`));
    await w.run();
    assert.equal(events[0], 'ready');
    // A done job's ack lands in the background, so its completed event may follow the next start.
    assert.deepEqual(events.filter((event) => event.includes('Quick')), ['started Quick 1', 'completed Quick 1']);
    assert.deepEqual(events.filter((event) => event.includes('Flaky')), ['started Flaky 1', 'retrying Flaky 1 after Flaky: down, in 0s', 'started Flaky 2', 'failed Flaky 2 after Flaky: down']);
    assert.deepEqual({ ...(completed as object), ms: 0 }, { id: quick.id, job: 'Quick', queue: 'default', attempt: 1, connection: 'memory', ms: 0 });
  });

  it('tells its listeners a job is lost, not completed, when its lease was taken over while it ran', async () => {
    const driver = new MemoryDriver();
    const job = stored('Waits', { ms: 50 });
    await driver.push([job]);
    const w = worker(driver);
    const events: string[] = [];
    for (const event of ['completed', 'lost'] as const) w.on(event, (run) => events.push(`${event} ${run.id}`));
    const running = w.run();
    await eventually('a job started', () => ran.length > 0);
    driver.rows.get(job.id)!.token = 'another worker';
    await running;
    assert.deepEqual(events, [`lost ${job.id}`]);
    assert.equal(driver.rows.get(job.id)?.token, 'another worker', 'left to its new holder');
  });

  it("keeps a done job's record; a cancel reaches a running job in about a second and ends it cancelled, not retried", async () => {
    const driver = new MemoryDriver();
    const [quick, waits] = [stored('Quick'), stored('Waits', { ms: 30_000 })];
    await driver.push([quick, waits]);
    const w = worker(driver, { concurrency: 2, stopWhenEmpty: false });
    const events: string[] = [];
    w.on('cancelled', (run) => events.push(`cancelled ${run.id}`));
    const running = w.run();
    await eventually('Waits started', () => ran.some((line) => line.startsWith('Waits')));
    const asked = Date.now();
    assert.equal(await driver.records.cancel(waits.id, { keepMs: 60_000, maxPerQueue: 10 }), 'requested');
    await eventually('Waits ended cancelled', async () => (await driver.records.find(waits.id))?.state === 'cancelled');
    assert.ok(Date.now() - asked < 2_000, `cancelled within about a second (${Date.now() - asked} ms)`);
    w.stop(stopReason('signal', 'test'));
    await running;
    assert.deepEqual(events, [`cancelled ${waits.id}`]);
    assert.equal(ran.filter((line) => line.startsWith('Waits')).length, 1, 'not retried');
    assert.ok(!ran.some((line) => line.startsWith('failed-hook')), 'its failed() hook is not called');
    assert.equal(driver.failedRecords.size, 0, 'not a failure');
    assert.equal((await driver.records.find(quick.id))?.state, 'completed', 'the default keeps a record of a done job');
    assert.deepEqual((await driver.signals()).cancelRequested, [], 'the request is cleared');
  });

  it('a busy worker whose read of the signals failed reads them again: a cancel still reaches its running job', async () => {
    const driver = new MemoryDriver();
    const waits = stored('Waits', { ms: 30_000 });
    await driver.push([waits]);
    // A timeout longer than the test: only a cancel can end the job in time.
    const w = worker(driver, { concurrency: 1, stopWhenEmpty: false, defaults: { maxTries: 3, timeout: 60, backoff: [0] } });
    const running = w.run();
    try {
      await eventually('Waits started', () => ran.some((line) => line.startsWith('Waits')));
      // Its only slot is busy, so only the timer reads the signals: the next reads fail.
      driver.failNext(2);
      await new Promise((resolve) => setTimeout(resolve, 1_800));
      assert.equal(await driver.records.cancel(waits.id, { keepMs: 60_000, maxPerQueue: 10 }), 'requested');
      await eventually('cancelled after the request', async () => (await driver.records.find(waits.id))?.state === 'cancelled');
    } finally {
      w.stop(stopReason('signal', 'the test is over'));
      await running;
    }
  });
});
