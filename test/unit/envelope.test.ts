import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueError } from '../../src/errors.ts';
import { decodeEnvelope, encodeEnvelope, withFreshTries, type Envelope } from '../../src/jobs/envelope.ts';
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
