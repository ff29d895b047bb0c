/**
 * Every error a user can cause is a QueueError with a stable code and a message that says what was
 * wrong and what to do. Callers branch on `code`, never on message text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONNECTION_UNKNOWN'
  | 'BACKEND_UNAVAILABLE'
  | 'JOB_NOT_REGISTERED'
  | 'JOB_NOT_SERIALIZABLE'
  | 'JOB_FILE_INVALID'
  | 'JOB_NAME_DUPLICATE'
  | 'PAYLOAD_INVALID'
  | 'FAILED_JOB_NOT_FOUND'
  | 'FAILED_JOB_NOT_RETRYABLE'
  | 'INVALID_ARGUMENT'
  | 'JOB_FAILED';

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

export function isQueueError(error: unknown, code?: ErrorCode): error is QueueError {
  return error instanceof QueueError && (code === undefined || error.code === code);
}

/** The first line of an error, for tables and one-line CLI output. */
export function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.trim();
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
