import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueError } from '../../src/errors.ts';
import { backoffDelay, decodeEnvelope, encodeEnvelope, resolveBackoff, withFreshTries, type Envelope } from '../../src/jobs/envelope.ts';
import { queueError } from '../helpers/errors.ts';

function valid(): Envelope {
  return {
    v: 1,
    id: '6f1c2a52-3f4e-4d0a-9a63-0c4b9a7e2d11',
    job: 'billing/SendWelcomeEmail',
    queue: 'emails',
    data: { userId: 1 },
    attempts: 0,
    maxTries: 3,
    timeout: 30,
    backoff: [10, 60],
    createdAt: 1763800000000,
  };
}

/** The envelope as stored, with some fields replaced (undefined removes a field). */
function raw(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...valid(), ...changes });
}

const invalid = (...parts: string[]) => queueError('PAYLOAD_INVALID', ...parts);

describe('decodeEnvelope', () => {
  it('accepts a valid envelope and returns its fields', () => {
    assert.deepEqual(decodeEnvelope(encodeEnvelope(valid())), valid());
  });

  it('accepts null settings (the class declares none)', () => {
    const envelope = decodeEnvelope(raw({ maxTries: null, timeout: null, backoff: null }));
    assert.equal(envelope.maxTries, null);
    assert.equal(envelope.timeout, null);
    assert.equal(envelope.backoff, null);
  });

  it('rejects text that is not JSON', () => {
    assert.throws(() => decodeEnvelope('{"v":1,'), invalid('not JSON'));
  });

  it('rejects a JSON array and other non-objects', () => {
    assert.throws(() => decodeEnvelope('[1,2,3]'), invalid('not a JSON object'));
    assert.throws(() => decodeEnvelope('null'), invalid('not a JSON object'));
  });

  it('rejects a different version, naming both versions', () => {
    assert.throws(() => decodeEnvelope(raw({ v: 2 })), invalid('version 2', 'version 1'));
  });

  it('rejects a missing or empty id', () => {
    assert.throws(() => decodeEnvelope(raw({ id: undefined })), invalid('id'));
    assert.throws(() => decodeEnvelope(raw({ id: '' })), invalid('id'));
  });

  for (const job of ['../../etc/passwd', '/etc/passwd', 'jobs/../secret', 'node:child_process', '', 42]) {
    it(`rejects the job name ${JSON.stringify(job)}`, () => {
      assert.throws(() => decodeEnvelope(raw({ job })), invalid('job name'));
    });
  }

  it('rejects an empty queue', () => {
    assert.throws(() => decodeEnvelope(raw({ queue: '' })), invalid('queue'));
  });

  it('rejects data that is not an object', () => {
    for (const data of [null, [1], 'x', 5]) {
      assert.throws(() => decodeEnvelope(raw({ data })), invalid('data'));
    }
  });

  it('rejects attempts that are negative or absurdly large', () => {
    assert.throws(() => decodeEnvelope(raw({ attempts: -1 })), invalid('attempts'));
    assert.throws(() => decodeEnvelope(raw({ attempts: 1e12 })), invalid('attempts'));
    assert.throws(() => decodeEnvelope(raw({ attempts: 1.5 })), invalid('attempts'));
  });

  it('rejects maxTries 0', () => {
    assert.throws(() => decodeEnvelope(raw({ maxTries: 0 })), invalid('maxTries'));
  });

  it('rejects a timeout of -1 or 1e9 seconds', () => {
    assert.throws(() => decodeEnvelope(raw({ timeout: -1 })), invalid('timeout'));
    assert.throws(() => decodeEnvelope(raw({ timeout: 1e9 })), invalid('timeout'));
  });

  it('rejects a backoff with a negative number or that is not a list', () => {
    assert.throws(() => decodeEnvelope(raw({ backoff: [10, -5] })), invalid('backoff'));
    assert.throws(() => decodeEnvelope(raw({ backoff: 10 })), invalid('backoff'));
  });

  it('rejects a createdAt that is a string', () => {
    assert.throws(() => decodeEnvelope(raw({ createdAt: '2025-01-01' })), invalid('createdAt'));
  });
});

describe('resolveBackoff', () => {
  it('turns a number into a one-step list', () => {
    assert.deepEqual(resolveBackoff(5, 3), [5]);
  });

  it('copies a list, so later changes to the class do not leak in', () => {
    const steps = [1, 2, 3];
    const resolved = resolveBackoff(steps, 4);
    assert.deepEqual(resolved, [1, 2, 3]);
    steps.push(99);
    assert.deepEqual(resolved, [1, 2, 3]);
  });

  it('evaluates a function once for each of the maxTries - 1 retries', () => {
    const calls: number[] = [];
    const resolved = resolveBackoff((attempt) => { calls.push(attempt); return attempt * 10; }, 4);
    assert.deepEqual(resolved, [10, 20, 30]);
    assert.deepEqual(calls, [1, 2, 3]);
  });

  it('evaluates a function for the default 3 tries when maxTries is not declared', () => {
    assert.deepEqual(resolveBackoff((attempt) => attempt, undefined), [1, 2]);
  });

  it('returns null when the class declares no backoff', () => {
    assert.equal(resolveBackoff(undefined, 3), null);
  });
});

describe('backoffDelay', () => {
  it('uses one value per retry and repeats the last', () => {
    const steps = [10, 60, 300];
    assert.deepEqual([1, 2, 3, 4, 10].map((attempt) => backoffDelay(steps, attempt)), [10, 60, 300, 300, 300]);
  });

  it('returns 0 for an empty list', () => {
    assert.equal(backoffDelay([], 1), 0);
    assert.equal(backoffDelay([], 5), 0);
  });
});

describe('withFreshTries', () => {
  it('resets attempts to 0 and keeps the id and data', () => {
    const envelope = withFreshTries(raw({ attempts: 3 }), 'record-1');
    assert.equal(envelope.attempts, 0);
    assert.equal(envelope.id, valid().id);
    assert.deepEqual(envelope.data, valid().data);
  });

  it('refuses a payload that was never a valid job', () => {
    assert.throws(() => withFreshTries('garbage', 'record-2'), (error: unknown) => {
      assert.ok(error instanceof QueueError);
      assert.equal(error.code, 'FAILED_JOB_NOT_RETRYABLE');
      assert.match(error.message, /not JSON/);
      return true;
    });
  });
});
