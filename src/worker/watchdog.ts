/**
 * Hard timeouts for jobs that block the event loop. A job that ignores its AbortSignal but still
 * yields is caught on the main thread (see attempt.ts); one that never yields (`while (true) {}`)
 * can only be seen from another thread. This is the main thread's side of that watchdog: a
 * heartbeat in shared memory, and a note per running job with its deadline and what the recorder
 * needs to settle it (see watchdog-thread.js).
 */
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import type { Reservation } from '../queue/driver.ts';
import type { JobDefaults } from '../jobs/envelope.ts';

/** Heartbeat period; the main thread counts as stuck after STALE_MS without one. */
const HEARTBEAT_MS = 250;
const STALE_MS = 1_500;
/** Past its timeout, how long a job may go on before the watchdog steps in. */
export const WATCHDOG_GRACE_MS = 1_000;

/** What `queue internal:record-timeout` needs to settle a timed-out job. */
export interface TimeoutRecord {
  connection: string;
  reservation: Reservation;
  jobId: string;
  job: string;
  timeoutSeconds: number;
  defaults: JobDefaults;
}

/**
 * Shared memory layout: [heartbeat f64][slot 0][slot 1]..., each slot [deadline f64][length f64]
 * [SLOT_BYTES of JSON]. A running job's note costs an encode into its slot (a few microseconds);
 * postMessage, ten times dearer, is kept for notes too large for a slot.
 */
const SLOT_BYTES = 16 * 1024;
const SLOT_SIZE = 16 + SLOT_BYTES;

export class Watchdog {
  private readonly thread: Thread;
  private readonly memory: SharedArrayBuffer;
  private readonly heartbeat: Float64Array;
  private readonly free: number[];
  private readonly encoder = new TextEncoder();
  private readonly timer: NodeJS.Timeout;
  private nextKey = 0;

  constructor(root: string, slots: number) {
    this.memory = new SharedArrayBuffer(8 + slots * SLOT_SIZE);
    this.heartbeat = new Float64Array(this.memory, 0, 1);
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    this.beat();
    this.thread = new Thread(new URL('./watchdog-thread.js', import.meta.url), {
      workerData: {
        memory: this.memory,
        slots,
        slotBytes: SLOT_BYTES,
        bin: fileURLToPath(new URL('../../bin/queue.js', import.meta.url)),
        cwd: root,
        staleMs: STALE_MS,
        pollMs: 200,
      },
    });
    this.thread.unref();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  private beat(): void {
    this.heartbeat[0] = Date.now();
  }

  /** Starts watching one attempt; returns the function that stops watching it. */
  watch(record: TimeoutRecord): () => void {
    const deadline = Date.now() + record.timeoutSeconds * 1000 + WATCHDOG_GRACE_MS;
    const slot = this.free.pop();
    if (slot !== undefined) {
      const offset = 8 + slot * SLOT_SIZE;
      const header = new Float64Array(this.memory, offset, 2);
      const { written, read } = this.encoder.encodeInto(JSON.stringify(record), new Uint8Array(this.memory, offset + 16, SLOT_BYTES));
      if (read !== undefined && written !== undefined && written < SLOT_BYTES) {
        header[1] = written;
        header[0] = deadline;
        return () => {
          header[0] = 0;
          this.free.push(slot);
        };
      }
      this.free.push(slot);
    }
    const key = (this.nextKey += 1);
    this.thread.postMessage({ type: 'start', key, deadline, request: record });
    return () => this.thread.postMessage({ type: 'end', key });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.thread.terminate();
  }
}
