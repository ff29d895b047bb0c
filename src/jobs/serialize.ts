/**
 * JSON plus explicit codecs, so that what a worker restores is what dispatch() was given.
 *
 * A tagged value is an object with exactly one key that starts with '$' ({"$date": "..."}); a plain
 * object that happens to look like that is wrapped in {"$object": {...}} so it cannot be mistaken
 * for one. Anything that cannot round-trip (a function, a class instance, a symbol, a circular
 * reference) is refused when the job is dispatched, with the path of the field in the message.
 */
import { QueueError } from '../errors.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Deeper data is refused both ways: a hostile payload must not overflow the worker's stack. */
const MAX_DEPTH = 64;

/** Keys that must never be assigned onto an object we build: they reach prototypes. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The payload fields of a job instance: own enumerable string keys, minus `_private` ones. */
export function payloadFields(job: object): string[] {
  return Object.keys(job).filter((key) => !key.startsWith('_'));
}

export function encodeData(job: object, jobName: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  const ancestors = new Set<object>([job]);
  for (const key of payloadFields(job)) {
    if (FORBIDDEN_KEYS.has(key)) throw notSerializable(jobName, key, 'is a reserved name; rename the field');
    out[key] = encodeValue((job as Record<string, unknown>)[key], key, jobName, ancestors);
  }
  return out;
}

function encodeValue(value: unknown, at: string, jobName: string, ancestors: Set<object>): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Object.is(value, -0)) return { $number: '-0' };
      return Number.isFinite(value) ? value : { $number: String(value) };
    case 'bigint':
      return { $bigint: value.toString() };
    case 'undefined':
      return { $undefined: 1 };
    case 'function':
      throw notSerializable(jobName, at, 'is a function; store plain data and look the behaviour up in handle()');
    case 'symbol':
      throw notSerializable(jobName, at, 'is a symbol, which cannot be serialized');
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) throw notSerializable(jobName, at, 'is a circular reference');
  if (ancestors.size > MAX_DEPTH) throw notSerializable(jobName, at, `is nested more than ${MAX_DEPTH} levels deep`);
  ancestors.add(object);
  try {
    return encodeObject(object, at, jobName, ancestors);
  } finally {
    ancestors.delete(object);
  }
}

function encodeObject(value: object, at: string, jobName: string, ancestors: Set<object>): Json {
  const proto = Object.getPrototypeOf(value);
  // Array.from visits holes, which map() would skip and JSON would turn into null.
  if (Array.isArray(value) && proto === Array.prototype) return Array.from(value, (item, index) => encodeValue(item, `${at}[${index}]`, jobName, ancestors));
  if (proto === Date.prototype) {
    const date = value as Date;
    if (Number.isNaN(date.getTime())) throw notSerializable(jobName, at, 'is an invalid Date');
    return { $date: date.toISOString() };
  }
  if (proto === Buffer.prototype) return { $buffer: (value as Buffer).toString('base64') };
  if (proto === Map.prototype) {
    return { $map: [...(value as Map<unknown, unknown>)].map(([k, v], i) => [encodeValue(k, `${at}<key ${i}>`, jobName, ancestors), encodeValue(v, `${at}.get(${i})`, jobName, ancestors)]) };
  }
  if (proto === Set.prototype) return { $set: [...(value as Set<unknown>)].map((item, i) => encodeValue(item, `${at}<item ${i}>`, jobName, ancestors)) };
  if (proto !== Object.prototype && proto !== null) {
    const kind = (proto?.constructor?.name as string | undefined) || 'class';
    throw notSerializable(jobName, at, `is a ${kind} instance; pass its id or a plain object instead`);
  }
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) throw notSerializable(jobName, `${at}.${key}`, 'is a reserved key');
    out[key] = encodeValue((value as Record<string, unknown>)[key], `${at}.${key}`, jobName, ancestors);
  }
  const keys = Object.keys(out);
  return keys.length === 1 && keys[0]!.startsWith('$') ? { $object: out } : out;
}

function notSerializable(jobName: string, at: string, problem: string): QueueError {
  return new QueueError('JOB_NOT_SERIALIZABLE', `${jobName}: field '${at}' ${problem}`);
}

/** Restores encoded data. Throws PAYLOAD_INVALID on anything encodeData() could not have made. */
export function decodeData(data: unknown): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw badData('data', 'is not an object');
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    out[key] = decodeValue(value, key, 1);
  }
  return out;
}

function decodeValue(value: unknown, at: string, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) throw badData(at, `is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) return value.map((item, index) => decodeValue(item, `${at}[${index}]`, depth + 1));
  const keys = Object.keys(value);
  const tagged = value as Record<string, unknown>;
  if (keys.length === 1 && keys[0]!.startsWith('$')) return decodeTagged(keys[0]!, tagged[keys[0]!], at, depth);
  return decodePlain(tagged, at, depth);
}

function decodePlain(value: Record<string, unknown>, at: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    out[key] = decodeValue(item, `${at}.${key}`, depth + 1);
  }
  return out;
}

function decodeTagged(tag: string, body: unknown, at: string, depth: number): unknown {
  switch (tag) {
    case '$date': {
      const date = typeof body === 'string' ? new Date(body) : undefined;
      if (!date || Number.isNaN(date.getTime())) throw badData(at, 'has an invalid $date');
      return date;
    }
    case '$bigint':
      if (typeof body !== 'string' || !/^-?\d+$/.test(body)) throw badData(at, 'has an invalid $bigint');
      return BigInt(body);
    case '$number':
      if (body === 'NaN') return Number.NaN;
      if (body === '-0') return -0;
      if (body === 'Infinity') return Number.POSITIVE_INFINITY;
      if (body === '-Infinity') return Number.NEGATIVE_INFINITY;
      throw badData(at, 'has an invalid $number');
    case '$undefined':
      return undefined;
    case '$buffer':
      if (typeof body !== 'string') throw badData(at, 'has an invalid $buffer');
      return Buffer.from(body, 'base64');
    case '$map':
      if (!Array.isArray(body) || !body.every((entry) => Array.isArray(entry) && entry.length === 2)) throw badData(at, 'has an invalid $map');
      return new Map(body.map(([k, v], i) => [decodeValue(k, `${at}<key ${i}>`, depth + 1), decodeValue(v, `${at}.get(${i})`, depth + 1)]));
    case '$set':
      if (!Array.isArray(body)) throw badData(at, 'has an invalid $set');
      return new Set(body.map((item, i) => decodeValue(item, `${at}<item ${i}>`, depth + 1)));
    case '$object':
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badData(at, 'has an invalid $object');
      return decodePlain(body as Record<string, unknown>, at, depth);
    default:
      throw badData(at, `has an unknown tag '${tag}'`);
  }
}

function badData(at: string, problem: string): QueueError {
  return new QueueError('PAYLOAD_INVALID', `field '${at}' ${problem}`);
}

/** Copies restored data onto a fresh job instance, field by field (never through a prototype). */
export function hydrate<T extends object>(instance: T, data: Record<string, unknown>): T {
  for (const [key, value] of Object.entries(data)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    Object.defineProperty(instance, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return instance;
}
