/**
 * The versioned envelope every backend stores. The worker decides retries and timeouts from it
 * without instantiating the job class. `null` settings mean "the class declares none": the
 * worker's flags (or their defaults) apply.
 *
 *   {"v":1,"id":"<uuid>","job":"SendWelcomeEmail","queue":"emails","data":{...},"attempts":0,
 *    "maxTries":3,"timeout":30,"backoff":[10,60],"createdAt":1763800000000}
 */
import { QueueError } from '../errors.ts';
import { isBackoff, isInt, isNumber, LIMITS } from './settings.ts';

export const ENVELOPE_VERSION = 1;

export interface Envelope {
  v: typeof ENVELOPE_VERSION;
  id: string;
  job: string;
  queue: string;
  /** The encoded fields; on an encrypted job, their ciphertext (see seal.ts). */
  data: Record<string, unknown> | string;
  /** Runs made before this payload was stored: 0 at dispatch; reset to 0 by `queue retry`. */
  attempts: number;
  maxTries: number | null;
  /** Seconds. */
  timeout: number | null;
  /** Seconds before retry 1, 2, ...; the last value repeats. */
  backoff: number[] | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** When a job dispatched with a delay first became due, ms since the epoch (absent: at createdAt). */
  availableAt?: number;
  /** Its priority, when not 0 (the backend orders by its own copy; this one is for people and retries). */
  priority?: number;
  /**
   * The trace context it was dispatched in, as the OpenTelemetry propagator wrote it (W3C:
   * `traceparent`, and `tracestate` when there is one); absent outside a span (see tracing.ts).
   * Never encrypted (it says nothing of the job's fields), and covered by the signature.
   */
  trace?: Record<string, string>;
  /** 'aes-256-gcm' when `data` is encrypted. */
  enc?: 'aes-256-gcm';
  /** HMAC of the envelope, when payloads are signed (QUEUE_SIGNED). */
  sig?: string;
}

/** Job names are registry keys (`billing/ChargeCard`), never module paths. */
const JOB_NAME = /^(?!.*\.\.)(?!\/)[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/** Letters, digits, '_', '-', '.' and '/' (between folders); never '..', ':' or a leading '/'. */
export function isValidJobName(name: string): boolean {
  return name.length <= LIMITS.nameLength && JOB_NAME.test(name);
}

export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify(envelope);
}

/** Parses and validates a stored payload. Throws PAYLOAD_INVALID with the reason. */
export function decodeEnvelope(raw: string, maxBytes = Number.POSITIVE_INFINITY): Envelope {
  if (typeof raw !== 'string') throw invalid('is not text');
  // Checked before parsing: a huge payload must not cost the worker its memory.
  const bytes = raw.length > maxBytes / 3 ? Buffer.byteLength(raw) : raw.length;
  if (bytes > maxBytes) throw invalid(`is ${bytes} bytes, over the limit of ${maxBytes} (QUEUE_MAX_PAYLOAD_BYTES)`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalid('is not JSON');
  }
  return validateEnvelope(value);
}

function validateEnvelope(value: unknown): Envelope {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('is not a JSON object');
  const e = value as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) throw invalid(`has version ${JSON.stringify(e.v)}; this worker reads version ${ENVELOPE_VERSION}`);
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 64) throw invalid('has no valid id');
  if (typeof e.job !== 'string' || !isValidJobName(e.job)) throw invalid('has no valid job name');
  if (typeof e.queue !== 'string' || e.queue.length === 0 || e.queue.length > LIMITS.nameLength) throw invalid('has no valid queue');
  if (e.enc !== undefined) {
    if (e.enc !== 'aes-256-gcm') throw invalid(`has an unknown cipher ${JSON.stringify(e.enc)}`);
    if (typeof e.data !== 'string') throw invalid('is encrypted but its data is not a string');
  } else if (e.data === null || typeof e.data !== 'object' || Array.isArray(e.data)) {
    throw invalid('has data that is not an object');
  }
  if (e.sig !== undefined && (typeof e.sig !== 'string' || e.sig.length > 128)) throw invalid('has an invalid signature field');
  if (!isInt(e.attempts, 0, LIMITS.attempts)) throw invalid(`has attempts outside 0..${LIMITS.attempts}`);
  if (e.maxTries !== null && !isInt(e.maxTries, 1, LIMITS.maxTries)) throw invalid(`has maxTries outside 1..${LIMITS.maxTries}`);
  if (e.timeout !== null && !isNumber(e.timeout, 0.001, LIMITS.timeoutSeconds)) throw invalid(`has a timeout outside 0..${LIMITS.timeoutSeconds}s`);
  if (e.backoff !== null && !isBackoff(e.backoff)) throw invalid('has an invalid backoff');
  if (!isNumber(e.createdAt, 0, 8.64e15)) throw invalid('has an invalid createdAt');
  if (e.availableAt !== undefined && !isNumber(e.availableAt, 0, 8.64e15)) throw invalid('has an invalid availableAt');
  if (e.priority !== undefined && !isInt(e.priority, -LIMITS.priority, LIMITS.priority)) throw invalid(`has a priority outside -${LIMITS.priority}..${LIMITS.priority}`);
  if (e.trace !== undefined && !isTraceCarrier(e.trace)) throw invalid('has an invalid trace context');
  return e as unknown as Envelope;
}

/** The most fields a trace context may have: W3C writes two (three with the baggage propagator). */
const TRACE_FIELDS = 8;
/** W3C baggage's limit, the largest of the values a propagator writes. */
const TRACE_VALUE_CHARS = 8_192;

/** A few header-like names, each with a string value of bounded size. */
function isTraceCarrier(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const fields = Object.entries(value);
  return fields.length <= TRACE_FIELDS && fields.every(([name, field]) => /^[a-z0-9_-]{1,64}$/i.test(name) && typeof field === 'string' && field.length <= TRACE_VALUE_CHARS);
}

function invalid(reason: string): QueueError {
  return new QueueError('PAYLOAD_INVALID', `payload ${reason}`);
}

/**
 * A failed job's payload, made ready to go back on its queue: the same id, zero attempts so far.
 * Throws FAILED_JOB_NOT_RETRYABLE when the stored payload was never a valid job.
 */
export function withFreshTries(payload: string, recordId: string): Envelope {
  let envelope: Envelope;
  try {
    envelope = decodeEnvelope(payload);
  } catch (error) {
    throw new QueueError(
      'FAILED_JOB_NOT_RETRYABLE',
      `failed job ${recordId} cannot be retried: its ${(error as Error).message}; inspect it with failed:show and remove it with failed:forget`,
    );
  }
  return { ...envelope, attempts: 0 };
}
