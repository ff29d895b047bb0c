/**
 * A job class's completed(result) and retrying(error) hooks, beside failed(error): each is called
 * once, after what it reports is on record, with the right argument; a worker's slot does not wait
 * for it; a hook that throws is logged and changes nothing. In a worker (one reservation, and the
 * loop) on the in-memory driver, and inline as the sync connection and Queue.fake() run jobs.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Reservation } from '../../src/contract/driver.ts';
import { decodeEnvelope } from '../../src/jobs/envelope.ts';
import { Job, type JobContext } from '../../src/jobs/Job.ts';
import { payloadRules } from '../../src/jobs/payload.ts';
import { JobRegistry } from '../../src/jobs/registry.ts';
import { retentionByClass } from '../../src/jobs/settings.ts';
import { Cancellation } from '../../src/running/attempt.ts';
import { runInline } from '../../src/running/inline.ts';
import { runReservation, type RunContext } from '../../src/running/run-reservation.ts';
import { Worker } from '../../src/worker/Worker.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { silent, stored } from '../helpers/in-process.ts';

/** What the jobs and their hooks did, in order. */
const seen: string[] = [];
/** The driver of the test that runs: a hook looks at it to tell whether its outcome is on record. */
let driver: MemoryDriver;
/** While set, completed() and retrying() wait for it before they return. */
let hookGate: Promise<void> | undefined;
/** Whether the hooks throw. */
let hooksThrow = false;

function onRecord(): string {
  const [row] = driver.rows.values();
  if (!row) return 'gone';
  return row.token === null ? `waiting after try ${row.attempts}` : 'reserved';
}

class Sends extends Job {
  to = '';

  handle(): unknown {
    seen.push('handle');
    return { sentTo: this.to, at: new Date(0) };
  }

  async completed(result: unknown): Promise<void> {
    seen.push(`completed ${JSON.stringify(result)} (job ${onRecord()})`);
    await hookGate;
    if (hooksThrow) throw new Error('completed hook: down');
  }

  retrying(): void {
    seen.push('retrying');
  }

  failed(): void {
    seen.push('failed');
  }
}

class Fails extends Job {
  static maxTries = 3;

  handle(ctx: JobContext): void {
    seen.push(`handle ${ctx.attempt}`);
    throw new Error(`down on try ${ctx.attempt}`);
  }

  async retrying(error: Error): Promise<void> {
    seen.push(`retrying ${error.message} (job ${onRecord()})`);
    await hookGate;
    if (hooksThrow) throw new Error('retrying hook: down');
  }

  completed(): void {
    seen.push('completed');
  }

  failed(error: Error): void {
    seen.push(`failed ${error.message} (job ${onRecord()})`);
  }
}

const registry = new JobRegistry([
  { name: 'Sends', jobClass: Sends, file: 'app/jobs/Sends.ts' },
  { name: 'Fails', jobClass: Fails, file: 'app/jobs/Fails.ts' },
]);

function context(log: Logger = silent): RunContext {
  return {
    driver, ack: ({ reservation, completion }) => driver.ack(reservation, completion), retention: retentionByClass(undefined),
    cancelRequested: () => false, registry, payloads: payloadRules({}), defaults: { maxTries: 3, timeout: 5, backoff: [0] }, log, cancel: new Cancellation(),
  };
}

async function reserve(): Promise<Reservation> {
  const [reservation] = await driver.reserve(['default'], { count: 1, defaultTimeoutMs: 5_000, leaseMarginMs: 1_000 });
  assert.ok(reservation);
  return reservation;
}

/** A logger that keeps its lines' messages. */
function recordingLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line).msg) }), lines };
}

/** A gate the hooks wait at until it is opened. */
function gate(): () => void {
  let open!: () => void;
  hookGate = new Promise((resolve) => (open = resolve));
  return open;
}

describe('job hooks in a worker', () => {
  beforeEach(() => {
    seen.length = 0;
    driver = new MemoryDriver();
    hookGate = undefined;
    hooksThrow = false;
  });

  it('completed(result) is called once, after the ack has landed, with what handle() returned', async () => {
    await driver.push([stored('Sends', { to: 'ada' })]);
    const result = await runReservation(context(), await reserve());
    assert.equal(await result.acked, true);
    await result.hooked;
    assert.deepEqual(seen, ['handle', 'completed {"sentTo":"ada","at":"1970-01-01T00:00:00.000Z"} (job gone)']);
  });

  it('completed() is not called when the lease was taken over before the ack', async () => {
    const job = stored('Sends');
    await driver.push([job]);
    const reservation = await reserve();
    driver.rows.get(job.id)!.token = 'someone else';
    const result = await runReservation(context(), reservation);
    assert.equal(await result.acked, false);
    await result.hooked;
    assert.deepEqual(seen, ['handle']);
  });

  it('retrying(error) is called after each release, with its try\'s error; failed() after the last try, and never completed()', async () => {
    await driver.push([stored('Fails')]);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const result = await runReservation(context(), await reserve());
      await result.hooked;
      assert.equal(result.outcome.status, attempt < 3 ? 'released' : 'failed');
    }
    assert.deepEqual(seen, [
      'handle 1', 'retrying down on try 1 (job waiting after try 1)',
      'handle 2', 'retrying down on try 2 (job waiting after try 2)',
      'handle 3', 'failed down on try 3 (job gone)',
    ]);
  });

  it('a slow completed() or retrying() does not hold the slot: the run is over before the hook is', async () => {
    const open = gate();
    await driver.push([stored('Sends'), stored('Fails')]);
    const done = await runReservation(context(), await reserve());
    const released = await runReservation(context(), await reserve());
    assert.deepEqual([done.outcome.status, released.outcome.status], ['done', 'released']);
    let settled = false;
    const hooks = Promise.all([done.hooked, released.hooked]).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false, 'both hooks still wait at the gate');
    open();
    await hooks;
    assert.equal(seen.filter((line) => /^(completed|retrying)/.test(line)).length, 2);
  });

  it('a job without these hooks has nothing to wait for', async () => {
    await driver.push([stored('Quick')]);
    const quick = new JobRegistry([{ name: 'Quick', jobClass: class Quick extends Job { handle(): void {} }, file: 'app/jobs/Quick.ts' }]);
    const result = await runReservation({ ...context(), registry: quick }, await reserve());
    assert.equal(result.hooked, undefined);
  });

  it('a hook that throws is logged and changes nothing: the job stays completed, or still runs again', async () => {
    hooksThrow = true;
    const { log, lines } = recordingLog();
    await driver.push([stored('Sends')]);
    const done = await runReservation(context(log), await reserve());
    await done.hooked;
    assert.deepEqual([done.outcome.status, driver.rows.size], ['done', 0]);

    await driver.push([stored('Fails')]);
    const released = await runReservation(context(log), await reserve());
    await released.hooked;
    assert.equal(released.outcome.status, 'released');
    const again = await runReservation(context(log), await reserve());
    assert.equal(again.run.attempt, 2, 'it ran again');
    assert.deepEqual(lines, ['completed() hook threw; the job stays completed', 'retrying() hook threw; the job still runs again', 'retrying() hook threw; the job still runs again']);
  });

  it('the worker loop calls each of them once per outcome', async () => {
    await driver.push([stored('Sends', { to: 'bob' }), stored('Fails')]);
    const reason = await new Worker(driver, registry, {
      queues: ['default'], concurrency: 1, sleep: 0.02, rest: 0, once: false, stopWhenEmpty: true, defaults: { maxTries: 3, timeout: 5, backoff: [0] }, leaseMargin: 1,
    }, silent).run();
    assert.equal(reason.code, 'empty');
    const hooks = seen.filter((line) => !line.startsWith('handle')).map((line) => line.split(' ')[0]).sort();
    assert.deepEqual(hooks, ['completed', 'failed', 'retrying', 'retrying']);
  });

  it('a graceful stop waits for a completed() hook still running', async () => {
    await driver.push([stored('Sends', { to: 'ann' })]);
    let open!: () => void;
    hookGate = new Promise((resolve) => (open = resolve));
    let stopped = false;
    const running = new Worker(driver, registry, {
      queues: ['default'], concurrency: 1, sleep: 0.02, rest: 0, once: false, stopWhenEmpty: true, defaults: { maxTries: 3, timeout: 5, backoff: [0] }, leaseMargin: 1,
    }, silent).run().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(driver.rows.size, 0, 'the job is done');
    assert.equal(stopped, false, 'run() has not returned while the hook runs');
    open();
    await running;
    assert.ok(seen.some((line) => line.startsWith('completed')));
  });
});

describe('job hooks inline (the sync connection, Queue.fake().runAll())', () => {
  beforeEach(() => {
    seen.length = 0;
    driver = new MemoryDriver();
    hookGate = undefined;
    hooksThrow = false;
  });

  it('calls completed(result) once the job is done, retrying(error) before each retry, failed(error) after the last', async () => {
    const sends = decodeEnvelope(stored('Sends', { to: 'eve' }).payload);
    assert.deepEqual(await runInline(Sends, sends, 'sync', silent), { ok: true, attempts: 1 });
    const fails = decodeEnvelope(stored('Fails').payload);
    const failed = await runInline(Fails, fails, 'sync', silent);
    assert.equal(failed.ok, false);
    // Nothing is stored inline: "(job gone)" says only that the test's driver holds nothing.
    assert.deepEqual(seen.map((line) => line.replace(/ \(job gone\)$/, '')), [
      'handle', 'completed {"sentTo":"eve","at":"1970-01-01T00:00:00.000Z"}',
      'handle 1', 'retrying down on try 1', 'handle 2', 'retrying down on try 2', 'handle 3', 'failed down on try 3',
    ]);
  });

  it('a hook that throws changes nothing: the job is done, or tried again', async () => {
    hooksThrow = true;
    const { log, lines } = recordingLog();
    assert.equal((await runInline(Sends, decodeEnvelope(stored('Sends').payload), 'sync', log)).ok, true);
    assert.equal((await runInline(Fails, decodeEnvelope(stored('Fails').payload), 'sync', log)).attempts, 3);
    assert.equal(lines.length, 3);
  });
});
