/** Sealing and opening payloads: encryption, signatures, size limits, and a hostile-input fuzzer. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { QueueError } from '../../src/errors.ts';
import { encodeEnvelope, ENVELOPE_VERSION, withFreshTries, type Envelope } from '../../src/jobs/envelope.ts';
import { decodeProgress, encodeProgress, openPayload, openResult, payloadRules, sealPayload, sealResult, type PayloadRules } from '../../src/jobs/payload.ts';
import { generateAppKey } from '../../src/jobs/seal.ts';
import { queueError } from '../helpers/errors.ts';
import { hostilePayload, random } from '../helpers/hostile.ts';

function envelope(data: Record<string, unknown> = { cardNumber: '4111 1111 1111 1111' }, overrides: Partial<Envelope> = {}): Envelope {
  return { v: ENVELOPE_VERSION, id: randomUUID(), job: 'Secret', queue: 'default', data, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: Date.now(), ...overrides };
}

const key = generateAppKey();
const plain = payloadRules({});
const keyed = payloadRules({ appKey: key });
const signed = payloadRules({ appKey: key, signed: true });

describe('encrypted jobs', () => {
  it('store their fields as authenticated ciphertext and open with the same key', () => {
    const raw = sealPayload(envelope(), true, keyed);
    assert.ok(!raw.includes('4111'), 'no clear text in storage');
    assert.equal(JSON.parse(raw).enc, 'aes-256-gcm');
    assert.deepEqual(openPayload(raw, keyed).data, { cardNumber: '4111 1111 1111 1111' });
  });

  it('refuse a tampered ciphertext, a wrong APP_KEY, a missing key, and ciphertext moved to another job', () => {
    const raw = sealPayload(envelope(), true, keyed);
    const parsed = JSON.parse(raw) as Envelope;
    const bytes = Buffer.from(parsed.data as string, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    const tampered = encodeEnvelope({ ...parsed, data: bytes.toString('base64') });
    assert.throws(() => openPayload(tampered, keyed), queueError('PAYLOAD_INVALID', 'failed authentication'));
    assert.throws(() => openPayload(raw, payloadRules({ appKey: generateAppKey() })), queueError('PAYLOAD_INVALID', 'another APP_KEY'));
    assert.throws(() => openPayload(raw, plain), queueError('PAYLOAD_INVALID', 'no APP_KEY'));
    assert.throws(() => openPayload(encodeEnvelope({ ...parsed, id: randomUUID() }), keyed), queueError('PAYLOAD_INVALID', 'failed authentication'));
    assert.throws(() => openPayload(encodeEnvelope({ ...parsed, data: 'c2hvcnQ=' }), keyed), queueError('PAYLOAD_INVALID', 'truncated'));
  });

  it('cannot be dispatched without APP_KEY, and APP_KEY is checked without being echoed', () => {
    assert.throws(() => sealPayload(envelope(), true, plain), queueError('CONFIG_INVALID', 'set APP_KEY'));
    const bad = 'base64:dG9vc2hvcnQ=';
    assert.throws(() => payloadRules({ appKey: bad }), (error: unknown) => error instanceof QueueError && error.code === 'CONFIG_INVALID' && error.message.includes('APP_KEY') && !error.message.includes('dG9vc2hvcnQ'));
    assert.throws(() => payloadRules({ signed: true }), queueError('CONFIG_INVALID', 'QUEUE_SIGNED=true needs APP_KEY'));
  });
});

describe('signed payloads', () => {
  it('run when signed by our key, and stay valid after a retry resets attempts', () => {
    const raw = sealPayload(envelope({ n: 1 }), false, signed);
    assert.deepEqual(openPayload(raw, signed).data, { n: 1 });
    const afterRetry = encodeEnvelope(withFreshTries(encodeEnvelope({ ...JSON.parse(raw), attempts: 3 }), 'record'));
    assert.deepEqual(openPayload(afterRetry, signed).data, { n: 1 });
  });

  it('refuse unsigned jobs, altered fields, and another key\'s signature', () => {
    assert.throws(() => openPayload(sealPayload(envelope({ n: 1 }), false, keyed), signed), queueError('PAYLOAD_INVALID', 'not signed'));
    const raw = JSON.parse(sealPayload(envelope({ n: 1 }), false, signed)) as Envelope;
    for (const altered of [{ ...raw, data: { n: 2 } }, { ...raw, job: 'Other' }, { ...raw, maxTries: 1000 }, { ...raw, queue: 'elsewhere' }]) {
      assert.throws(() => openPayload(encodeEnvelope(altered), signed), queueError('PAYLOAD_INVALID', 'signature does not match'));
    }
    const theirs = sealPayload(envelope({ n: 1 }), false, payloadRules({ appKey: generateAppKey(), signed: true }));
    assert.throws(() => openPayload(theirs, signed), queueError('PAYLOAD_INVALID', 'signature does not match'));
  });

  it('encrypted and signed together', () => {
    const raw = sealPayload(envelope(), true, signed);
    assert.deepEqual(openPayload(raw, signed).data, { cardNumber: '4111 1111 1111 1111' });
  });
});

describe('size limits', () => {
  const small: PayloadRules = payloadRules({ maxPayloadBytes: 2048 });

  it('refuse at dispatch a payload over the limit, saying how big it is', () => {
    assert.throws(() => sealPayload(envelope({ blob: 'x'.repeat(4096) }), false, small), queueError('JOB_NOT_SERIALIZABLE', 'over the limit of 2048', 'QUEUE_MAX_PAYLOAD_BYTES'));
  });

  it('refuse in the worker a stored payload over the limit, before parsing it', () => {
    const raw = encodeEnvelope(envelope({ blob: 'é'.repeat(2048) }));
    assert.throws(() => openPayload(raw, small), queueError('PAYLOAD_INVALID', 'over the limit of 2048'));
  });
});

describe('fuzzing the decoder', () => {
  // A hang would show as this test's timeout, not as a timed assertion.
  it('5,000 hostile payloads: each opens as a valid job or is refused with PAYLOAD_INVALID; nothing else', { timeout: 120_000 }, () => {
    const next = random(20261122);
    let opened = 0;
    let refused = 0;
    for (let i = 0; i < 5000; i += 1) {
      const raw = hostilePayload(next);
      try {
        const { data } = openPayload(raw, plain);
        assert.equal(Object.getPrototypeOf(data), Object.prototype);
        opened += 1;
      } catch (error) {
        assert.ok(error instanceof QueueError && error.code === 'PAYLOAD_INVALID', `case ${i} threw ${String(error)} for ${raw.slice(0, 200)}`);
        refused += 1;
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.ok(opened > 0 && refused > 0, `both outcomes occur (${opened} opened, ${refused} refused)`);
  });
});

describe('results and progress', () => {
  it('a result comes back as handle() returned it: Date, BigInt, Map and all; nothing stays nothing', () => {
    const e = envelope({});
    const value = { at: new Date('2026-12-01T00:00:00Z'), total: 2n ** 70n, by: new Map([['eu', 1]]), list: [1, 'two'] };
    assert.deepEqual(openResult(sealResult(value, e, plain), e, plain), value);
    assert.equal(sealResult(undefined, e, plain), null);
    assert.equal(openResult(null, e, plain), undefined);
  });

  it("an encrypted job's result is stored encrypted and opens only with the key", () => {
    const sealed = JSON.parse(sealPayload(envelope(), true, keyed)) as Envelope;
    const stored = sealResult({ card: '4111 1111 1111 1111' }, sealed, keyed)!;
    assert.ok(!stored.includes('4111'), 'no clear text on the backend');
    assert.deepEqual(openResult(stored, sealed, keyed), { card: '4111 1111 1111 1111' });
    assert.throws(() => openResult(stored, sealed, plain), /encrypted and this worker has no APP_KEY/);
  });

  it('a result over the payload limit, or one that cannot be encoded, is refused with the reason', () => {
    const small = payloadRules({ maxPayloadBytes: 1024 });
    assert.throws(() => sealResult('x'.repeat(2000), envelope(), small), /Secret: its result is \d+ bytes encoded, over the limit of 1024/);
    assert.throws(() => sealResult(new (class Order {})(), envelope(), plain), /Secret: field 'result' is a Order instance/);
  });

  it('progress is a number from 0 to 100 or a small plain object', () => {
    assert.equal(encodeProgress(40, 'Report'), '40');
    assert.deepEqual(decodeProgress(encodeProgress({ done: 3, at: new Date(0) }, 'Report')), { done: 3, at: new Date(0) });
    for (const bad of [101, -1, Number.NaN, 'half', [1, 2], null]) assert.throws(() => encodeProgress(bad, 'Report'), /Report: ctx.progress\(\) takes a number from 0 to 100 or a plain object/);
    assert.throws(() => encodeProgress({ rows: 'x'.repeat(70_000) }, 'Report'), /over 65536; report a few fields, not data/);
  });
});
