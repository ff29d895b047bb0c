/**
 * Encrypted and signed payloads, with one key: APP_KEY (`base64:` + 32 random bytes, as Laravel
 * writes it; `queue key:generate` makes one). Two subkeys are derived from it with HKDF, so the
 * cipher and the MAC never share a key.
 *
 * - Encrypted jobs (`static encrypted = true`): the envelope's `data` becomes a string,
 *   base64(iv[12] | tag[16] | AES-256-GCM ciphertext of the encoded data), and `enc` says so. The
 *   job's id and name are authenticated with it, so ciphertext cannot be moved to another job.
 * - Signed payloads (QUEUE_SIGNED=true): `sig` is an HMAC-SHA256 of the envelope with `sig` removed
 *   and `attempts` zeroed, so `queue retry` (which resets attempts) keeps the signature valid
 *   without needing the key. A worker that requires signatures refuses any job it did not sign.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { QueueError } from '../errors.ts';
import type { Envelope } from './envelope.ts';

const CIPHER = 'aes-256-gcm';

export interface Keyring {
  encryption: Buffer;
  signing: Buffer;
}

/** Parses APP_KEY; throws CONFIG_INVALID naming the variable (never echoing the key). */
export function keyringFrom(appKey: string): Keyring {
  const raw = appKey.startsWith('base64:') ? Buffer.from(appKey.slice(7), 'base64') : Buffer.alloc(0);
  if (raw.length !== 32) throw new QueueError('CONFIG_INVALID', "APP_KEY must be 'base64:' followed by 32 random bytes in base64; run `queue key:generate`");
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), `queue ${purpose} v1`, 32));
  return { encryption: derive('encryption'), signing: derive('signing') };
}

export function generateAppKey(): string {
  return `base64:${randomBytes(32).toString('base64')}`;
}

function associatedData(envelope: Pick<Envelope, 'id' | 'job'>): Buffer {
  return Buffer.from(`${envelope.id}\n${envelope.job}`);
}

export function encryptData(envelope: Envelope, keys: Keyring): Envelope {
  const iv = randomBytes(12);
  const cipher = createCipheriv(CIPHER, keys.encryption, iv);
  cipher.setAAD(associatedData(envelope));
  const body = Buffer.concat([cipher.update(JSON.stringify(envelope.data), 'utf8'), cipher.final()]);
  return { ...envelope, enc: CIPHER, data: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
}

/** The encoded data of an encrypted envelope. Throws PAYLOAD_INVALID if it fails authentication. */
export function decryptData(envelope: Envelope, keys: Keyring | undefined): unknown {
  if (!keys) throw new QueueError('PAYLOAD_INVALID', `payload of ${envelope.job} is encrypted and this worker has no APP_KEY`);
  const sealed = typeof envelope.data === 'string' ? Buffer.from(envelope.data, 'base64') : Buffer.alloc(0);
  if (sealed.length < 28) throw new QueueError('PAYLOAD_INVALID', 'encrypted payload is truncated');
  try {
    const decipher = createDecipheriv(CIPHER, keys.encryption, sealed.subarray(0, 12));
    decipher.setAAD(associatedData(envelope));
    decipher.setAuthTag(sealed.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(plain);
  } catch {
    throw new QueueError('PAYLOAD_INVALID', 'encrypted payload failed authentication: it was altered, or encrypted with another APP_KEY');
  }
}

function signature(envelope: Envelope, keys: Keyring): string {
  const { sig: _sig, ...unsigned } = envelope;
  return createHmac('sha256', keys.signing).update(JSON.stringify({ ...unsigned, attempts: 0 })).digest('base64url');
}

export function sign(envelope: Envelope, keys: Keyring): Envelope {
  return { ...envelope, sig: signature(envelope, keys) };
}

/** Throws PAYLOAD_INVALID unless the envelope carries a valid signature by this key. */
export function verifySignature(envelope: Envelope, keys: Keyring): void {
  if (typeof envelope.sig !== 'string') throw new QueueError('PAYLOAD_INVALID', 'payload is not signed, and this worker only runs signed jobs (QUEUE_SIGNED)');
  const expected = Buffer.from(signature(envelope, keys));
  const given = Buffer.from(envelope.sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new QueueError('PAYLOAD_INVALID', 'payload signature does not match: it was altered, or signed with another APP_KEY');
  }
}
