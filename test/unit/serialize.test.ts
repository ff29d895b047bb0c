import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeData, encodeData, hydrate, payloadFields } from '../../src/jobs/serialize.ts';
import { queueError } from '../helpers/errors.ts';

/** What a worker sees: encoded at dispatch, stored as JSON text, parsed and decoded. */
function roundTrip(job: object): Record<string, unknown> {
  return decodeData(JSON.parse(JSON.stringify(encodeData(job, 'TestJob'))));
}

const refusal = queueError;

describe('encodeData/decodeData round trip', () => {
  it('keeps JSON scalars and nested objects and arrays', () => {
    const job = { s: 'héllo', n: 42.5, neg: -7, t: true, f: false, nil: null, nested: { list: [1, 'two', { three: [3] }], deep: { a: { b: 'c' } } }, empty: {}, none: [] };
    assert.deepEqual(roundTrip(job), job);
  });

  it('restores a Date as a Date with the same instant', () => {
    const when = new Date('2024-02-29T12:34:56.789Z');
    const out = roundTrip({ when });
    assert.ok(out.when instanceof Date);
    assert.equal((out.when as Date).getTime(), when.getTime());
  });

  it('restores BigInt, Buffer, Map and Set', () => {
    const big = 2n ** 70n;
    const out = roundTrip({
      big,
      small: -5n,
      buf: Buffer.from([0, 1, 254, 255]),
      map: new Map<unknown, unknown>([['a', 1], [2, new Date(0)], [{ k: 1 }, [1n]]]),
      set: new Set(['x', 3, null]),
    });
    assert.equal(out.big, big);
    assert.equal(out.small, -5n);
    assert.ok(Buffer.isBuffer(out.buf));
    assert.deepEqual([...(out.buf as Buffer)], [0, 1, 254, 255]);
    assert.ok(out.map instanceof Map);
    assert.deepEqual(out.map, new Map<unknown, unknown>([['a', 1], [2, new Date(0)], [{ k: 1 }, [1n]]]));
    assert.ok(out.set instanceof Set);
    assert.deepEqual(out.set, new Set(['x', 3, null]));
  });

  it('keeps undefined fields and undefined array items instead of dropping them', () => {
    const out = roundTrip({ missing: undefined, list: [undefined, 1], inner: { u: undefined } });
    assert.ok(Object.hasOwn(out, 'missing'));
    assert.equal(out.missing, undefined);
    assert.deepEqual(out.list, [undefined, 1]);
    assert.ok(Object.hasOwn(out.inner as object, 'u'));
  });

  it('keeps NaN and both infinities (JSON would turn them into null)', () => {
    const out = roundTrip({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY });
    assert.ok(Number.isNaN(out.nan));
    assert.equal(out.inf, Number.POSITIVE_INFINITY);
    assert.equal(out.ninf, Number.NEGATIVE_INFINITY);
  });

  it('keeps -0 and the holes of a sparse array', () => {
    const out = roundTrip({ negativeZero: -0, sparse: [1, , 3] });
    assert.ok(Object.is(out.negativeZero, -0));
    assert.deepEqual(out.sparse, [1, undefined, 3]);
  });

  it('refuses subclasses of Date, Map and Array (they would come back as the base class)', () => {
    class Moment extends Date {}
    class Registry extends Map {}
    assert.throws(() => encodeData({ at: new Moment() }, 'Job'), refusal('JOB_NOT_SERIALIZABLE', "'at'", 'Moment'));
    assert.throws(() => encodeData({ map: new Registry() }, 'Job'), refusal('JOB_NOT_SERIALIZABLE', "'map'", 'Registry'));
  });

  it('returns a plain object with one $-prefixed key as that plain object, not a tagged value', () => {
    const out = roundTrip({ looksLikeDate: { $date: 'x' }, looksLikeObject: { $object: 5 }, inList: [{ $bigint: '1' }] });
    assert.deepEqual(out.looksLikeDate, { $date: 'x' });
    assert.ok(!(out.looksLikeDate instanceof Date));
    assert.deepEqual(out.looksLikeObject, { $object: 5 });
    assert.deepEqual(out.inList, [{ $bigint: '1' }]);
  });

  it('allows the same object to appear twice when it is not circular', () => {
    const shared = { id: 1 };
    assert.deepEqual(roundTrip({ a: shared, b: [shared, shared] }), { a: { id: 1 }, b: [{ id: 1 }, { id: 1 }] });
  });
});

describe('encodeData refusals', () => {
  it('refuses a function field and names it', () => {
    assert.throws(() => encodeData({ ok: 1, callback: () => 1 }, 'SendMail'), refusal('JOB_NOT_SERIALIZABLE', 'SendMail', "'callback'", 'function'));
  });

  it('refuses a class instance nested in an object, with the field path', () => {
    const withUrl = { user: { profile: new URL('https://example.com/u/1') } };
    assert.throws(() => encodeData(withUrl, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'user.profile'", 'URL'));
    class Profile { name = 'ada'; }
    assert.throws(() => encodeData({ user: { profile: new Profile() } }, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'user.profile'", 'Profile'));
    assert.throws(() => encodeData({ list: [1, new Profile()] }, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'list[1]'"));
  });

  it('refuses a symbol value', () => {
    assert.throws(() => encodeData({ tag: Symbol('t') }, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'tag'", 'symbol'));
  });

  it('refuses a circular reference', () => {
    const node: Record<string, unknown> = { name: 'root' };
    node.child = { parent: node };
    assert.throws(() => encodeData({ node }, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'node.child.parent'", 'circular'));
    const job: Record<string, unknown> = {};
    job.self = job;
    assert.throws(() => encodeData(job, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'self'", 'circular'));
  });

  it('refuses an invalid Date', () => {
    assert.throws(() => encodeData({ at: { when: new Date('not a date') } }, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'at.when'", 'invalid Date'));
  });
});

describe('payload fields', () => {
  class Example {
    keep = 1;
    _cache = 'helper';
    #secret = 's3cret';
    also = 'yes';
    reveal(): string { return this.#secret; }
  }

  it('leaves out _private and #private fields', () => {
    const job = new Example();
    assert.deepEqual(payloadFields(job), ['keep', 'also']);
    const encoded = encodeData(job, 'Example');
    assert.deepEqual(encoded, { keep: 1, also: 'yes' });
    assert.ok(!JSON.stringify(encoded).includes('s3cret'));
    assert.ok(!JSON.stringify(encoded).includes('helper'));
  });

  it('hydrate puts decoded fields back onto a fresh instance that keeps its class', () => {
    const job = hydrate(new Example(), roundTrip(Object.assign(new Example(), { keep: 9, also: 'changed' })));
    assert.ok(job instanceof Example);
    assert.equal(job.keep, 9);
    assert.equal(job.also, 'changed');
    assert.equal(job.reveal(), 's3cret');
  });
});

describe('decodeData rejections', () => {
  it('rejects an unknown $tag with PAYLOAD_INVALID', () => {
    assert.throws(() => decodeData({ field: { $evil: 'x' } }), refusal('PAYLOAD_INVALID', "'field'", '$evil'));
  });

  it('rejects malformed tagged values and non-object data', () => {
    assert.throws(() => decodeData({ d: { $date: 'not a date' } }), refusal('PAYLOAD_INVALID', "'d'"));
    assert.throws(() => decodeData({ b: { $bigint: '12abc' } }), refusal('PAYLOAD_INVALID', "'b'"));
    assert.throws(() => decodeData({ n: { $number: '42' } }), refusal('PAYLOAD_INVALID', "'n'"));
    assert.throws(() => decodeData([1, 2]), refusal('PAYLOAD_INVALID'));
    assert.throws(() => decodeData(null), refusal('PAYLOAD_INVALID'));
  });
});

describe('prototype pollution', () => {
  const hostile = '{"__proto__": {"polluted": true}, "constructor": {"x":1}, "a": {"__proto__": {"p": 1}}}';

  it('decodeData and hydrate never change a prototype', () => {
    class Target { a: unknown = null; }
    const protoBefore = Object.getPrototypeOf(new Target());
    const decoded = decodeData(JSON.parse(hostile));
    const job = hydrate(new Target(), decoded);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((job as unknown as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(job), protoBefore);
    assert.equal(job.constructor, Target);
    assert.equal((job.a as Record<string, unknown>).p, undefined);
    assert.equal(Object.getPrototypeOf(job.a), Object.prototype);
    assert.equal(Object.hasOwn(decoded, 'constructor'), false);
  });

  it('hydrate given raw parsed JSON also skips the reserved keys', () => {
    class Target {}
    const job = hydrate(new Target(), JSON.parse(hostile) as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(job), Target.prototype);
    assert.equal(job.constructor, Target);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('encodeData refuses reserved keys rather than storing them', () => {
    const data = JSON.parse('{"inner": {"__proto__": {"x": 1}}}') as object;
    assert.throws(() => encodeData(data, 'J'), refusal('JOB_NOT_SERIALIZABLE', "'inner.__proto__'"));
  });
});
