/**
 * What a worker's main thread and its watchdog thread share, written once for both sides: the
 * layout of their shared memory, and the note kept per running job.
 *
 *   [heartbeat f64][frozen ms f64][slot 0][slot 1]...
 *   slot: [deadline f64][note length f64][frozen ms at the job's start f64][SLOT_BYTES of note]
 *
 * The heartbeat is written by the main thread (Date.now()), the frozen time by the watchdog thread;
 * a slot's deadline is written last and set to 0 when the job ends, so a slot with a deadline holds
 * a whole note. A note is the job's fields joined by NOTE_SEPARATOR, payload last (it can hold
 * anything, so it takes the rest), encoded in one go: no JSON, which would escape every quote of
 * the payload. A note too large for a slot travels by message instead (ten times dearer).
 */
import type { Reservation } from '../contract/driver.ts';
import type { JobDefaults } from '../jobs/settings.ts';

/** What the watchdog needs to settle a job that blocked the event loop. */
export interface WatchedJob {
  reservation: Reservation;
  jobId: string;
  job: string;
  timeoutSeconds: number;
}

/** What `queue internal:record-timeout` is handed: the job's note, and its worker's connection and defaults. */
export interface TimeoutRecord extends WatchedJob {
  connection: string;
  defaults: JobDefaults;
}

/** What the watchdog thread is started with. */
export interface WatchdogThreadData {
  memory: SharedArrayBuffer;
  /** bin/queue.js, and the project root to run it in, for the recorder process. */
  bin: string;
  cwd: string;
  /** The main thread counts as stuck after this long without a heartbeat. */
  staleMs: number;
  /** How often the thread looks. */
  pollMs: number;
  /** The thread not having run for this long past its poll means the process was frozen. */
  freezeMs: number;
  worker: Pick<TimeoutRecord, 'connection' | 'defaults'>;
}

const NOTE_SEPARATOR = '\u001f';
const SLOT_BYTES = 16 * 1024;
const HEADER_BYTES = 16;
const SLOT_HEADER_BYTES = 24;
const SLOT_SIZE = SLOT_HEADER_BYTES + SLOT_BYTES;

export interface Slot {
  /** [deadline (Date.now() ms, 0: free), note length, frozen ms when the job started] */
  header: Float64Array;
  note: Uint8Array;
}

export interface SharedViews {
  heartbeat: Float64Array;
  frozen: Float64Array;
  slots: Slot[];
}

export function sharedMemory(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + slots * SLOT_SIZE);
}

/** Views of the shared memory, made once per thread. */
export function sharedViews(memory: SharedArrayBuffer): SharedViews {
  const slots = Math.floor((memory.byteLength - HEADER_BYTES) / SLOT_SIZE);
  return {
    heartbeat: new Float64Array(memory, 0, 1),
    frozen: new Float64Array(memory, 8, 1),
    slots: Array.from({ length: slots }, (_, i) => ({
      header: new Float64Array(memory, HEADER_BYTES + i * SLOT_SIZE, 3),
      note: new Uint8Array(memory, HEADER_BYTES + i * SLOT_SIZE + SLOT_HEADER_BYTES, SLOT_BYTES),
    })),
  };
}

export function encodeNote(job: WatchedJob): string {
  const r = job.reservation;
  return [job.jobId, job.job, job.timeoutSeconds, r.handle, r.queue, r.attempts, r.token, r.leaseExpiresAt, r.payload].join(NOTE_SEPARATOR);
}

export function decodeNote(note: string): WatchedJob {
  const fields: string[] = [];
  let from = 0;
  for (let i = 0; i < 8; i += 1) {
    const end = note.indexOf(NOTE_SEPARATOR, from);
    fields.push(note.slice(from, end));
    from = end + NOTE_SEPARATOR.length;
  }
  const [jobId = '', job = '', timeoutSeconds, handle = '', queue = '', attempts, token = '', leaseExpiresAt] = fields;
  return {
    jobId,
    job,
    timeoutSeconds: Number(timeoutSeconds),
    reservation: { handle, queue, attempts: Number(attempts), token, leaseExpiresAt: Number(leaseExpiresAt), payload: note.slice(from) },
  };
}
