/**
 * Taking one reservation to its end, in-process on the in-memory driver: a payload that cannot run
 * goes to failed storage with its reason, a failing job is released with its backoff or failed for
 * good with its failed() hook, and a lease lost under a job changes nothing.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Reservation } from '../../src/contract/driver.ts';
import { payloadRules } from '../../src/jobs/payload.ts';
import { Cancellation } from '../../src/running/attempt.ts';
import { runReservation, type RunContext } from '../../src/running/run-reservation.ts';
import { retentionByClass } from '../../src/jobs/settings.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { ran, registry, silent, stored } from '../helpers/in-process.ts';

const LEASE = { count: 1, defaultTimeoutMs: 5_000, leaseMarginMs: 1_000 };

function context(driver: MemoryDriver): RunContext {
  return { driver, ack: ({ reservation, completion }) => driver.ack(reservation, completion), retention: retentionByClass(undefined), cancelRequested: () => false, registry, payloads: payloadRules({}), defaults: { maxTries: 3, timeout: 5, backoff: [0] }, log: silent, cancel: new Cancellation() };
}

async function reserve(driver: MemoryDriver): Promise<Reservation> {
  const [reservation] = await driver.reserve(['default'], LEASE);
  assert.ok(reservation);
  return reservation;
}

describe('running one reservation', () => {
  beforeEach(() => {
    ran.length = 0;
  });

  it('a payload that is not a job goes to failed storage with its raw bytes and the reason', async () => {
    const driver = new MemoryDriver();
    await driver.push([{ id: 'raw', queue: 'default', payload: '{not json', delayMs: 0, timeoutMs: null }]);
    const result = await runReservation(context(driver), await reserve(driver));
    assert.equal(result.outcome.status, 'failed');
    const [record] = await driver.failed.list();
    assert.deepEqual([record!.payload, record!.job], ['{not json', null]);
    assert.match(record!.error, /^invalid payload: payload is not JSON/);
  });

  it('a job no class is registered for goes to failed storage, naming it', async () => {
    const driver = new MemoryDriver();
    await driver.push([stored('NoSuchJob')]);
    await runReservation(context(driver), await reserve(driver));
    assert.match((await driver.failed.list())[0]!.error, /^unknown job 'NoSuchJob': no class with that name/);
  });

  it('a job whose tries ran out without a word fails without running, and its failed() hook runs', async () => {
    const driver = new MemoryDriver();
    const job = stored('Flaky', {}, 'default', { maxTries: 2 });
    await driver.push([job]);
    for (let i = 0; i < 2; i += 1) await driver.release(await reserve(driver), 0);
    const result = await runReservation(context(driver), await reserve(driver));
    assert.equal(result.outcome.status, 'failed');
    assert.deepEqual(ran, [`failed-hook ${job.id} attempted 3 times, more than maxTries 2: an earlier attempt timed out or its worker died`]);
  });

  it('a job that throws is released after its backoff, then failed for good with its hook', async () => {
    const driver = new MemoryDriver();
    const job = stored('Flaky', {}, 'default', { maxTries: 2, backoff: [2] });
    await driver.push([job]);
    const first = await runReservation(context(driver), await reserve(driver));
    assert.deepEqual(first.outcome.status === 'released' && first.outcome.delay, 2);
    const row = driver.rows.get(job.id)!;
    assert.ok(row.availableAt - Date.now() > 1_500, 'available again only after the 2 s backoff');
    row.availableAt = 0;
    const second = await runReservation(context(driver), await reserve(driver));
    assert.equal(second.outcome.status, 'failed');
    assert.deepEqual(ran, [`Flaky ${job.id} 1`, `Flaky ${job.id} 2`, `failed-hook ${job.id} Flaky: down`]);
  });

  it('a done job whose lease was taken over meanwhile is left to its new holder', async () => {
    const driver = new MemoryDriver();
    const job = stored('Quick');
    await driver.push([job]);
    const reservation = await reserve(driver);
    driver.rows.get(job.id)!.token = 'someone else';
    const result = await runReservation(context(driver), reservation);
    assert.equal(result.outcome.status, 'done');
    assert.equal(await result.acked, false, 'the ack changed nothing');
    assert.equal(driver.rows.has(job.id), true);
  });
});
