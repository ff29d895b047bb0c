/** Seeded hostile payloads for the fuzz tests (the decoder's unit test and the worker's e2e test). */
import { randomUUID } from 'node:crypto';
import { ENVELOPE_VERSION } from '../../src/jobs/envelope.ts';

/** A seeded generator (mulberry32): the same seed, the same thousands of cases, on every run. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD: unknown[] = [null, true, -1, 0, 1e308, -0.5, 2 ** 53, '', '__proto__', 'constructor', '../../etc/passwd', 'node:child_process', '$date', { $date: 'nope' }, { $bigint: '1e3' }, { $map: 5 }, { $evil: 1 }, [], {}, 'x'.repeat(300)];

/** A hostile value: random JSON of random shape, sometimes deeply nested, sometimes prototype keys. */
function hostileValue(next: () => number, depth = 0): unknown {
  const pick = next();
  if (depth > 3 || pick < 0.35) return WEIRD[Math.floor(next() * WEIRD.length)];
  if (pick < 0.5) {
    let deep: unknown = 1;
    for (let i = 0; i < 10 + Math.floor(next() * 5000); i += 1) deep = [deep];
    return deep;
  }
  if (pick < 0.75) return Array.from({ length: Math.floor(next() * 4) }, () => hostileValue(next, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(next() * 4); i += 1) out[String(WEIRD[Math.floor(next() * WEIRD.length)])] = hostileValue(next, depth + 1);
  return out;
}

/** Mutates a valid envelope: a field replaced, deleted, or the JSON text itself cut or flipped. */
export function hostilePayload(next: () => number): string {
  const base: Record<string, unknown> = { v: ENVELOPE_VERSION, id: randomUUID(), job: 'Record', queue: 'default', data: { label: 'fuzz', nested: { ok: true } }, attempts: 0, maxTries: 1, timeout: null, backoff: null, createdAt: Date.now() };
  const fields = ['v', 'id', 'job', 'queue', 'data', 'attempts', 'maxTries', 'timeout', 'backoff', 'createdAt', 'enc', 'sig', '__proto__'];
  const choice = next();
  if (choice < 0.5) {
    const field = fields[Math.floor(next() * fields.length)]!;
    if (next() < 0.2) delete base[field];
    else Object.defineProperty(base, field, { value: hostileValue(next), enumerable: true, configurable: true, writable: true });
    return JSON.stringify(base);
  }
  const text = JSON.stringify(base);
  if (choice < 0.7) return text.slice(0, Math.floor(next() * text.length));
  if (choice < 0.9) {
    const at = Math.floor(next() * text.length);
    return text.slice(0, at) + String.fromCharCode(Math.floor(next() * 128)) + text.slice(at + 1);
  }
  return JSON.stringify(hostileValue(next));
}

