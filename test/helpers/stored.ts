/** Jobs as a driver stores them (the envelope, encoded), for the driver-level suites. */
import { randomUUID } from 'node:crypto';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION } from '../../src/jobs/envelope.ts';
import type { Reservation, StoredJob } from '../../src/contract/driver.ts';

export function storedJob(queue = 'default', options: Partial<Pick<StoredJob, 'delayMs' | 'timeoutMs' | 'priority' | 'expireInMs' | 'unique' | 'id'>> & { label?: string } = {}): StoredJob {
  const id = options.id ?? randomUUID();
  const timeoutMs = options.timeoutMs ?? null;
  const createdAt = Date.now();
  const payload = encodeEnvelope({
    v: ENVELOPE_VERSION, id, job: 'Record', queue, data: { label: options.label ?? '' }, attempts: 0, maxTries: null, timeout: timeoutMs === null ? null : timeoutMs / 1000, backoff: null, createdAt,
    ...(options.delayMs ? { availableAt: createdAt + options.delayMs } : {}),
    ...(options.priority ? { priority: options.priority } : {}),
  });
  return {
    id, queue, payload, delayMs: options.delayMs ?? 0, timeoutMs,
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.expireInMs !== undefined ? { expireInMs: options.expireInMs } : {}),
    ...(options.unique !== undefined ? { unique: options.unique } : {}),
  };
}

/** The job id inside a reservation's payload. */
export function idOf(reservation: Reservation): string {
  return decodeEnvelope(reservation.payload).id;
}
