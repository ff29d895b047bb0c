/**
 * Job records for application code and the CLI (SPEC 11): a stored record opened into what a
 * person reads (its fields, result and progress decoded), and find, list, cancel and wait on a
 * connection of the manager. `wait` polls the record with a growing interval; every waiter of a
 * process shares the manager's one connection.
 */
import { canNotifyFinished, JOB_STATES, type CancelOutcome, type Driver, type JobRecord, type JobState, type Keeping } from '../contract/driver.ts';
import { firstLine, QueueError } from '../errors.ts';
import { decodeEnvelope, type Envelope } from '../jobs/envelope.ts';
import { decodeProgress, openPayload, openResult, type PayloadRules } from '../jobs/payload.ts';
import { endedRetention } from '../jobs/settings.ts';
import type { QueueManager } from './manager.ts';

/** A job's record, opened: what Queue.find() returns and `queue show` prints. Times are ms since the epoch. */
export interface JobInfo {
  id: string;
  /** The job's name (its class), or null for a row that does not say. */
  name: string | null;
  queue: string;
  connection: string;
  state: JobState;
  /** The job's fields; undefined when the payload cannot be opened here (see `unreadable`). */
  data: Record<string, unknown> | undefined;
  /** What handle() returned (completed jobs). */
  result: unknown;
  /** What the job last reported with ctx.progress(). */
  progress: unknown;
  /** The last failure's message and stack. */
  error: string | null;
  attempts: number;
  maxTries: number | null;
  /** Its priority as dispatched (0: the default). */
  priority: number;
  createdAt: number | null;
  availableAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Why the payload or result could not be opened (no APP_KEY for an encrypted job, garbage bytes). */
  unreadable?: string;
  /** The payload as stored: `queue show --json` prints it for a payload that cannot be opened. */
  payload: string;
}

/** Opens a record with the payload rules (APP_KEY for encrypted jobs). */
export function openRecord(record: JobRecord, payloads: PayloadRules): JobInfo {
  let envelope: Envelope | undefined;
  let data: Record<string, unknown> | undefined;
  let result: unknown;
  let unreadable: string | undefined;
  try {
    envelope = decodeEnvelope(record.payload, payloads.maxBytes);
    ({ data } = openPayload(record.payload, payloads));
    result = openResult(record.result, envelope, payloads);
  } catch (error) {
    unreadable = (error as Error).message;
  }
  return {
    id: record.id,
    name: envelope?.job ?? null,
    queue: record.queue,
    connection: record.connection,
    state: record.state,
    data,
    result,
    progress: safely(() => decodeProgress(record.progress)),
    error: record.error,
    attempts: record.attempts,
    maxTries: envelope?.maxTries ?? null,
    priority: envelope?.priority ?? 0,
    createdAt: envelope?.createdAt ?? null,
    availableAt: record.availableAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    ...(unreadable === undefined ? {} : { unreadable }),
    payload: record.payload,
  };
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

export function checkState(state: unknown): JobState {
  if (typeof state !== 'string' || !JOB_STATES.includes(state as JobState)) {
    throw new QueueError('INVALID_ARGUMENT', `unknown state '${String(state)}'; use one of: ${JOB_STATES.join(', ')}`);
  }
  return state as JobState;
}

/** How a connection keeps finished records: its `keep`, or the defaults (a cancel is kept even where completed jobs are not). */
export function keepingOf(manager: QueueManager, connection: string): Keeping {
  const config = manager.config.connections[connection];
  return endedRetention(config && config.driver !== 'sync' ? config.keep : undefined, `connection '${connection}'`);
}

export async function findJob(manager: QueueManager, id: string, connection?: string): Promise<JobInfo | undefined> {
  const driver = await manager.driver(connection);
  const record = await driver.records.find(id);
  return record && openRecord(record, manager.payloads);
}

/** Cancels a job; says whether it was cancelled at once or its worker was asked to. Throws for an unknown or finished job. */
export async function cancelJob(manager: QueueManager, id: string, connection?: string): Promise<'cancelled' | 'requested'> {
  const driver = await manager.driver(connection);
  const outcome: CancelOutcome = await driver.records.cancel(id, keepingOf(manager, driver.connection));
  if (outcome === 'unknown') throw new QueueError('JOB_NOT_FOUND', `no job with id ${id} on connection '${driver.connection}'`);
  if (outcome === 'finished') {
    const record = await driver.records.find(id);
    throw new QueueError('JOB_FINISHED', `job ${id} has already finished${record ? ` (${record.state})` : ''}: there is nothing to cancel`);
  }
  return outcome;
}

/** The first poll of wait(), and the longest: the interval grows from one to the other. */
const WAIT_FIRST_MS = 20;
const WAIT_MAX_MS = 1_000;
/** Where the backend tells when a job finishes, a waiter still looks this often: a notice can be lost. */
const WAIT_NOTIFIED_MAX_MS = 5_000;

/**
 * Resolves with the job's result once it has completed; rejects with JOB_FAILED, JOB_CANCELLED,
 * JOB_EXPIRED, WAIT_TIMEOUT (after `timeoutMs`) or JOB_NOT_FOUND.
 */
export async function waitForJob(manager: QueueManager, id: string, options: { timeoutMs?: number; connection?: string } = {}): Promise<unknown> {
  const driver: Driver = await manager.driver(options.connection);
  let wake: (() => void) | undefined;
  let unsubscribe: (() => void) | undefined;
  if (canNotifyFinished(driver)) {
    try {
      unsubscribe = await driver.onFinished((ids) => {
        if (ids.includes(id)) wake?.();
      });
    } catch {
      // No notices (the listening connection failed): looking now and then still finds the end.
    }
  }
  try {
    return await pollForJob(manager, driver, id, options.timeoutMs, unsubscribe === undefined ? WAIT_MAX_MS : WAIT_NOTIFIED_MAX_MS, (resolve) => (wake = resolve));
  } finally {
    unsubscribe?.();
  }
}

/** Looks at the record until it has finished: after growing pauses, each cut short by a notice. */
async function pollForJob(manager: QueueManager, driver: Driver, id: string, timeoutMs: number | undefined, maxMs: number, onNotice: (wake: () => void) => void): Promise<unknown> {
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  for (let interval = WAIT_FIRST_MS; ; interval = Math.min(maxMs, interval * 1.5)) {
    const record = await driver.records.find(id);
    if (!record) throw new QueueError('JOB_NOT_FOUND', `no job with id ${id} on connection '${driver.connection}' (a job whose class keeps no record, keep: false, cannot be waited for once done)`);
    const info = record.state === 'completed' || record.state === 'failed' || record.state === 'cancelled' || record.state === 'expired' ? openRecord(record, manager.payloads) : undefined;
    switch (info?.state) {
      case 'completed':
        if (info.unreadable) throw new QueueError('PAYLOAD_INVALID', `job ${id} completed, but its result cannot be opened here: ${info.unreadable}`);
        return info.result;
      case 'failed':
        throw new QueueError('JOB_FAILED', `job ${id} failed: ${firstLine(info.error ?? 'no error on record')}`);
      case 'cancelled':
        throw new QueueError('JOB_CANCELLED', `job ${id} was cancelled`);
      case 'expired':
        throw new QueueError('JOB_EXPIRED', `job ${id} expired before it started`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new QueueError('WAIT_TIMEOUT', `job ${id} is still ${record.state} after ${Math.round(timeoutMs! / 100) / 10}s of waiting`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(interval, left));
      onNotice(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
