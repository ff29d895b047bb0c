/**
 * Job records as the dashboard sends them to the page: plain JSON, never the stored payload.
 *
 * Records are opened without APP_KEY: the dashboard never decrypts. An encrypted job's fields and
 * result stay closed ("encrypted or unreadable" on its page), as `queue failed:show` keeps them
 * without --decrypt, so a page left open, a screenshot or a proxy log cannot leak them. Signatures
 * are not checked either: the page shows what is stored, and a worker still refuses what it cannot
 * verify.
 */
import type { JobRecord } from '../contract/driver.ts';
import { firstLine } from '../errors.ts';
import { decodeEnvelope } from '../jobs/envelope.ts';
import type { PayloadRules } from '../jobs/payload.ts';
import { openRecord, type JobInfo } from '../queue/records.ts';
import { jsonSafe } from '../queue/values.ts';

/** The fields of a record a list shows (JobInfo's). */
type RowFields = 'id' | 'name' | 'queue' | 'state' | 'attempts' | 'maxTries' | 'priority' | 'createdAt' | 'availableAt' | 'startedAt' | 'finishedAt';

/** One line of a list of jobs. Times are ms since the epoch. */
export interface JobRow extends Pick<JobInfo, RowFields> {
  /** The first line of the last failure. */
  error: string | null;
}

/** A job's whole record, for its own page. */
export interface JobView extends Omit<JobRow, 'error'> {
  connection: string;
  /** The fields, as plain JSON; null when they cannot be opened here (see `closed`). */
  data: unknown;
  result: unknown;
  progress: unknown;
  /** The last failure's message and stack. */
  error: string | null;
  /** Why the fields cannot be shown: the job is encrypted, or the payload is not one this version reads. */
  closed?: string;
}

/** The rules records are opened with here: the size limit only (no key, no signature check). */
function closedRules(payloads: PayloadRules): PayloadRules {
  return { signed: false, maxBytes: payloads.maxBytes };
}

export function jobRow(record: JobRecord, payloads: PayloadRules): JobRow {
  const info = openRecord(record, closedRules(payloads));
  return { ...rowFields(info), error: info.error === null ? null : firstLine(info.error) };
}

export function jobView(record: JobRecord, payloads: PayloadRules): JobView {
  const info = openRecord(record, closedRules(payloads));
  const closed = info.unreadable === undefined ? undefined : encrypted(record.payload, payloads) ? 'encrypted: the dashboard never decrypts a job\'s fields' : info.unreadable;
  return {
    ...rowFields(info),
    connection: info.connection,
    data: jsonSafe(info.data),
    result: jsonSafe(info.result),
    progress: jsonSafe(info.progress),
    error: info.error,
    ...(closed === undefined ? {} : { closed }),
  };
}

function rowFields(info: JobInfo): Omit<JobRow, 'error'> {
  const { id, name, queue, state, attempts, maxTries, priority, createdAt, availableAt, startedAt, finishedAt } = info;
  return { id, name, queue, state, attempts, maxTries, priority, createdAt, availableAt, startedAt, finishedAt };
}

function encrypted(payload: string, payloads: PayloadRules): boolean {
  try {
    return decodeEnvelope(payload, payloads.maxBytes).enc !== undefined;
  } catch {
    return false;
  }
}
