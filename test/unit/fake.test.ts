/** Queue.fake() as an application's tests use it: no backend, jobs encoded for real, assertions, runAll(). */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { dispatch, Job, Queue, type JobContext } from '../../src/index.ts';

class SendInvoice extends Job {
  static queue = 'billing';
  static maxTries = 2;
  orderId = '';
  due = new Date(0);

  handle(ctx: JobContext): void {
    sent.push(`${this.orderId} ${ctx.attempt}`);
    if (this.orderId === 'bad') throw new Error('no such order');
  }

  failed(error: Error): void {
    sent.push(`failed ${this.orderId}: ${error.message}`);
  }
}

class Other extends Job {
  handle(): void {}
}

const sent: string[] = [];

describe('Queue.fake()', () => {
  afterEach(() => {
    Queue.restore();
    sent.length = 0;
  });

  it('records dispatches instead of storing them, and asserts on class, fields, queue and delay', async () => {
    const fake = Queue.fake();
    fake.assertNothingDispatched();
    const id = await SendInvoice.dispatch({ orderId: 'A1', due: new Date('2026-12-24') });
    await Queue.later(90, Object.assign(new SendInvoice(), { orderId: 'A2' }), { queue: 'late' });
    await Queue.bulk([new Other(), new Other()]);
    assert.match(id, /^[0-9a-f-]{36}$/);
    fake.assertDispatched(SendInvoice);
    fake.assertDispatched(SendInvoice, (job) => job.orderId === 'A1' && job.due instanceof Date && job.due.getUTCDate() === 24);
    fake.assertDispatchedTimes(SendInvoice, 2);
    fake.assertDispatchedTimes(Other, 2);
    fake.assertDispatchedOn(SendInvoice, 'billing');
    fake.assertDispatchedOn(SendInvoice, 'late');
    fake.assertDispatchedWithDelay(SendInvoice, 90);
    fake.assertNotDispatched(SendInvoice, (job) => job.orderId === 'nope');
    assert.equal(await Queue.size('billing'), 1);
    assert.throws(() => fake.assertNothingDispatched(), /expected nothing to be dispatched; dispatched: SendInvoice x2, Other x2/);
    assert.throws(() => fake.assertDispatchedTimes(Other, 3), /expected Other to be dispatched 3 time\(s\), but it was 2 time\(s\)/);
    assert.throws(() => fake.assertNotDispatched(Other), /expected Other not to be dispatched, but it was 2 time\(s\)/);
  });

  it('refuses at dispatch a field that could not be stored, as for real', async () => {
    const fake = Queue.fake();
    const job = Object.assign(new SendInvoice(), { orderId: 'A1' });
    (job as unknown as { callback: () => void }).callback = () => {};
    await assert.rejects(dispatch(job), /field 'callback'/);
    fake.assertNothingDispatched();
  });

  it('runAll() runs what was recorded through the real attempt path: tries, failed() hooks', async () => {
    const fake = Queue.fake();
    await SendInvoice.dispatch({ orderId: 'ok' });
    await SendInvoice.dispatch({ orderId: 'bad' });
    const runs = await fake.runAll();
    assert.deepEqual(runs.map((r) => [r.ok, r.attempts]), [[true, 1], [false, 2]]);
    assert.deepEqual(sent, ['ok 1', 'bad 1', 'bad 2', 'failed bad: no such order']);
  });
});
