import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packPayload, unpackPayload } from '../../src/drivers/redis/packed.ts';
import { encodeEnvelope, type Envelope } from '../../src/jobs/envelope.ts';
import { jobId, jobIdTime } from '../../src/jobs/pack.ts';
import { payloadRules, sealPayload } from '../../src/jobs/payload.ts';
import { generateAppKey } from '../../src/jobs/seal.ts';

const QUEUE = 'emails';

function envelope(changes: Partial<Envelope> = {}): Envelope {
  const id = changes.id ?? jobId();
  return { v: 1, id, job: 'billing/SendWelcomeEmail', queue: QUEUE, data: { userId: 1 }, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: jobIdTime(id), ...changes };
}

/** Packs and unpacks; asserts the round trip gives back every byte. Returns the stored form. */
function roundTrip(id: string, payload: string, queue = QUEUE): string {
  const stored = packPayload(id, queue, payload);
  assert.equal(unpackPayload(id, queue, stored), payload, `round trip of ${JSON.stringify(payload)} stored as ${JSON.stringify(stored)}`);
  return stored;
}

describe('Redis packed payloads', () => {
  it('stores a plain envelope without what Redis already knows, and gives it back byte for byte', () => {
    const e = envelope({ job: 'Noop', queue: 'bench', data: { i: 12_345, t: 0 } });
    const payload = encodeEnvelope(e);
    const stored = roundTrip(e.id, payload, 'bench');
    assert.equal(stored, '~Noop".{"i":12345,"t":0}');
    assert.ok(payload.length > 180);
  });

  it('stores a job of a priority, otherwise usual, with its priority alone beside the data', () => {
    for (const priority of [5, -7, 1_000_000]) {
      const e = envelope({ job: 'Noop', queue: 'bench', data: { i: 1, t: 0 }, priority });
      assert.equal(roundTrip(e.id, encodeEnvelope(e), 'bench'), `~Noop"${priority}.{"i":1,"t":0}`);
    }
    // Anything else beside the priority takes the long form.
    const id = jobId();
    for (const e of [envelope({ id, priority: 3, attempts: 1 }), envelope({ id, priority: 3, createdAt: jobIdTime(id) + 1 }), envelope({ id, priority: 3, availableAt: jobIdTime(id) + 10 })]) {
      assert.match(roundTrip(id, encodeEnvelope(e)), /^~[^"]+"\d+;/);
    }
  });

  it('keeps settings, a createdAt apart from the id, and the optional fields', () => {
    const id = jobId();
    const cases: Envelope[] = [
      envelope({ id, maxTries: 3, timeout: 30, backoff: [10, 60] }),
      envelope({ id, timeout: 2.5, backoff: [] }),
      envelope({ id, attempts: 4 }),
      envelope({ id, createdAt: jobIdTime(id) + 1 }),
      envelope({ id, availableAt: jobIdTime(id) + 5_000, priority: -7 }),
      envelope({ id, trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=1,"attempts":0' } }),
      envelope({ id, data: { text: 'a,"attempts":0,"maxTries":null,"timeout":null,"backoff":null,"createdAt":1}', nested: [{ '~': '"' }] } }),
      envelope({ id, data: { s: 'ünïcødé \u2028 😀 \\ " \n' } }),
    ];
    for (const e of cases) assert.match(roundTrip(id, encodeEnvelope(e)), /^~[^~]/, `packed: ${encodeEnvelope(e)}`);
  });

  it('packs sealed payloads: encrypted data, signatures', () => {
    const rules = payloadRules({ appKey: generateAppKey(), signed: true });
    const e = envelope({ data: { secret: 'x' } });
    const signed = sealPayload(e, false, rules);
    const sealed = sealPayload(e, true, rules);
    assert.match(roundTrip(e.id, signed), /^~/);
    assert.match(roundTrip(e.id, sealed), /^~/);
  });

  it('stores what it cannot cut as it came, and a payload that starts with ~ marked', () => {
    const id = jobId();
    const other = encodeEnvelope(envelope({ id }));
    const stays = [
      '',
      'not json',
      '{"job":"Raw","data":{}}',
      JSON.stringify({ ...envelope({ id }), v: 2 }),
      other.replace(`"queue":"${QUEUE}"`, '"queue":"other"'),
      other.replace(`"id":"${id}"`, '"id":"someone-else"'),
      other.replace('"maxTries":null', '"maxTries":"3"'),
      other.replace('"timeout":null', '"timeout":1e+21'),
      other.replace(',"attempts":0', ',"attempts" : 0'),
    ];
    for (const payload of stays) assert.equal(roundTrip(id, payload), payload);
    for (const payload of ['~', '~~', '~x', `~${other}`]) assert.equal(roundTrip(id, payload), `~${payload}`);
    // A job name that starts with ~ would read as the mark of a payload that did: stored as it came.
    const tilde = other.replace('"job":"billing/SendWelcomeEmail"', '"job":"~odd"');
    assert.equal(roundTrip(id, tilde), tilde);
  });

  it('gives back every byte of envelopes changed at random places', () => {
    const id = jobId();
    const bases = [envelope({ id }), envelope({ id, maxTries: 3, backoff: [1, 2], priority: 2 }), envelope({ id, priority: -12 })].map(encodeEnvelope);
    const alphabet = ['"', '~', ';', ':', ',', '}', '{', '.', '-', '0', '7', ' ', '\\', 'é', 'null', ',"attempts":', ',"priority":'];
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
    for (let i = 0; i < 5_000; i++) {
      let payload = bases[i % bases.length]!;
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(payload.length + 1);
        payload = random(2) === 0
          ? payload.slice(0, at) + alphabet[random(alphabet.length)] + payload.slice(at)
          : payload.slice(0, at) + payload.slice(at + 1 + random(3));
      }
      roundTrip(id, payload);
    }
  });

  it('gives a stored value it did not write (set by hand) back as it is', () => {
    const id = jobId();
    for (const stored of ['~', '~x', '~Noop"1;2;3', '~Noop"0;;;;;', '~Noop"0;;;;;x', '~Noop"0;;;;;99:}', '~Noop"-.x', '~Noop"5x', '~Noop"5;x']) assert.equal(unpackPayload(id, QUEUE, stored), stored);
  });

  it('needs the id it was packed with: an id that is no version 7 UUID keeps its createdAt', () => {
    for (const id of ['daily-digest:1796618911000', '6f1c2a52-3f4e-4d0a-9a63-0c4b9a7e2d11', '']) {
      const e = envelope({ id, createdAt: 1_796_618_911_499 });
      assert.match(roundTrip(id, encodeEnvelope(e)), /;1796618911499;/);
    }
  });
});
