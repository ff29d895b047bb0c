/**
 * The one way in and out of a stored payload. At dispatch: size limit, encryption for jobs that ask
 * for it, signature when payloads are signed. In the worker: size limit before parsing, the strict
 * envelope check, the signature, decryption, then the data codecs. Every refusal is a
 * PAYLOAD_INVALID error whose message is the reason kept with the failed record.
 */
import { QueueError } from '../errors.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.ts';
import { decodeData, encodeData } from './serialize.ts';
import { decryptData, encryptData, keyringFrom, sign, verifySignature, type Keyring } from './seal.ts';

export interface PayloadRules {
  /** From APP_KEY; needed for encrypted jobs and signatures. */
  keys?: Keyring;
  /** Sign every payload, and run only signed ones (QUEUE_SIGNED). */
  signed: boolean;
  /** The largest encoded payload, in bytes (QUEUE_MAX_PAYLOAD_BYTES). */
  maxBytes: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function payloadRules(options: { appKey?: string; signed?: boolean; maxPayloadBytes?: number }): PayloadRules {
  const keys = options.appKey ? keyringFrom(options.appKey) : undefined;
  if (options.signed && !keys) throw new QueueError('CONFIG_INVALID', 'QUEUE_SIGNED=true needs APP_KEY; run `queue key:generate`');
  return { keys, signed: options.signed ?? false, maxBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES };
}

/** Encrypts and signs as the rules and the job ask, encodes, and enforces the size limit. */
export function sealPayload(envelope: Envelope, encrypted: boolean, rules: PayloadRules): string {
  let sealed = envelope;
  if (encrypted) {
    if (!rules.keys) throw new QueueError('CONFIG_INVALID', `${envelope.job} is an encrypted job: set APP_KEY (run \`queue key:generate\`)`);
    sealed = encryptData(sealed, rules.keys);
  }
  if (rules.signed) sealed = sign(sealed, rules.keys!);
  const payload = encodeEnvelope(sealed);
  const bytes = byteLength(payload, rules.maxBytes);
  if (bytes > rules.maxBytes) {
    throw new QueueError('JOB_NOT_SERIALIZABLE', `${envelope.job}: the encoded job is ${bytes} bytes, over the limit of ${rules.maxBytes} (QUEUE_MAX_PAYLOAD_BYTES); store large data elsewhere and pass a reference`);
  }
  return payload;
}

/** UTF-8 bytes of `text`, counted only when it could be over `max` (a UTF-16 unit is at most 3 bytes). */
function byteLength(text: string, max: number): number {
  return text.length * 3 > max ? Buffer.byteLength(text) : text.length;
}

/**
 * What handle() returned, as the job's record keeps it: through the data codecs (a Date, a BigInt
 * or a Map comes back as one), encrypted like the job's fields for encrypted jobs, and no larger
 * than a payload may be. Null for undefined (nothing returned).
 */
export function sealResult(value: unknown, envelope: Envelope, rules: PayloadRules): string | null {
  if (value === undefined) return null;
  const data = encodeData({ result: value }, envelope.job);
  const stored = envelope.enc ? JSON.stringify({ enc: encryptData({ ...envelope, data }, rules.keys!).data }) : JSON.stringify(data);
  const bytes = byteLength(stored, rules.maxBytes);
  if (bytes > rules.maxBytes) {
    throw new QueueError('JOB_NOT_SERIALIZABLE', `${envelope.job}: its result is ${bytes} bytes encoded, over the limit of ${rules.maxBytes} (QUEUE_MAX_PAYLOAD_BYTES); return a reference to data stored elsewhere`);
  }
  return stored;
}

/** A result as sealResult() stored it, opened again; undefined for none. */
export function openResult(stored: string | null, envelope: Envelope, rules: PayloadRules): unknown {
  if (stored === null) return undefined;
  const parsed = JSON.parse(stored) as { enc?: unknown };
  const data = typeof parsed.enc === 'string' ? decryptData({ ...envelope, data: parsed.enc }, rules.keys) : parsed;
  return decodeData(data).result;
}

/** The most bytes ctx.progress() stores: progress is for a number or a few fields, not data. */
export const MAX_PROGRESS_BYTES = 64 * 1024;

/** ctx.progress()'s value as stored: a number from 0 to 100, or a plain object (through the data codecs). */
export function encodeProgress(value: unknown, jobName: string): string {
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 100)) throw new QueueError('INVALID_ARGUMENT', `${jobName}: ctx.progress() takes a number from 0 to 100 or a plain object, got ${value}`);
    return String(value);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new QueueError('INVALID_ARGUMENT', `${jobName}: ctx.progress() takes a number from 0 to 100 or a plain object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const stored = JSON.stringify(encodeData({ progress: value }, jobName).progress);
  const bytes = byteLength(stored, MAX_PROGRESS_BYTES);
  if (bytes > MAX_PROGRESS_BYTES) throw new QueueError('INVALID_ARGUMENT', `${jobName}: ctx.progress() got ${bytes} bytes encoded, over ${MAX_PROGRESS_BYTES}; report a few fields, not data`);
  return stored;
}

/** Progress as encodeProgress() stored it, opened again. */
export function decodeProgress(stored: string | null): unknown {
  if (stored === null) return undefined;
  return decodeData({ progress: JSON.parse(stored) }).progress;
}

/** Parses, checks and opens a stored payload: the envelope and its decoded fields. */
export function openPayload(raw: string, rules: PayloadRules): { envelope: Envelope; data: Record<string, unknown> } {
  const envelope = decodeEnvelope(raw, rules.maxBytes);
  if (rules.signed) verifySignature(envelope, rules.keys!);
  const encoded = envelope.enc ? decryptData(envelope, rules.keys) : envelope.data;
  return { envelope, data: decodeData(encoded) };
}
