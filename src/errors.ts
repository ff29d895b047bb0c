/**
 * Every error a user can cause is a QueueError with a stable code and a message that says what was
 * wrong and what to do. Callers branch on `code`, never on message text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONNECTION_UNKNOWN'
  | 'BACKEND_UNAVAILABLE'
  | 'PACKAGE_MISSING'
  | 'JOB_NOT_REGISTERED'
  | 'JOB_NOT_SERIALIZABLE'
  | 'JOB_FILE_INVALID'
  | 'JOB_NAME_DUPLICATE'
  | 'PAYLOAD_INVALID'
  | 'FAILED_JOB_NOT_FOUND'
  | 'FAILED_JOB_NOT_RETRYABLE'
  | 'INVALID_ARGUMENT'
  | 'JOB_FAILED'
  | 'JOB_NOT_FOUND'
  | 'JOB_FINISHED'
  | 'JOB_CANCELLED'
  | 'JOB_EXPIRED'
  | 'WAIT_TIMEOUT'
  | 'SCHEDULE_NOT_FOUND';

export class QueueError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueError';
    this.code = code;
  }
}

/**
 * Thrown by a job's handle() to say "this will never succeed": the job is failed at once, without
 * using its remaining tries (BullMQ users know this as UnrecoverableError).
 */
export class UnrecoverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableError';
  }
}

/** The reason a job attempt ended badly, as stored in failed records and logs. */
export class JobTimeoutError extends Error {
  constructor(seconds: number) {
    super(`job timed out after ${seconds}s`);
    this.name = 'JobTimeoutError';
  }
}

/** The reason a cancelled job's ctx.signal aborts with (Queue.cancel, `queue cancel`). */
export class JobCancelledError extends Error {
  constructor() {
    super('the job was cancelled');
    this.name = 'JobCancelledError';
  }
}

/** The one message for failed-record ids that are not on record. */
export function failedJobNotFound(ids: readonly string[]): QueueError {
  return new QueueError('FAILED_JOB_NOT_FOUND', `no failed job with id ${ids.join(', ')}; nothing was retried (see queue failed:list)`);
}

export function isQueueError(error: unknown, code?: ErrorCode): error is QueueError {
  return error instanceof QueueError && (code === undefined || error.code === code);
}

/** The first line of an error, for tables and one-line CLI output. */
export function firstLine(text: string): string {
  const line = String(text).split('\n', 1)[0] ?? '';
  return line.trim();
}

/** Message and stack of anything thrown, for records and logs. Never throws, whatever was thrown. */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.stack ?? `${error.name}: ${error.message}`);
  } catch {
    // A getter on the error threw: describe it as a value instead.
  }
  return printable(error);
}

/**
 * Anything thrown, as an Error: job code can throw a string, an object, even a value with no
 * prototype whose String() throws (`Object.create(null)`), and none of that may crash the worker.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `non-Error thrown: ${printable(value)}`);
}

/** A value as text: JSON where it can be, else String(), else its type. Never throws. */
function printable(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Circular, a BigInt, or a toJSON that throws.
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
