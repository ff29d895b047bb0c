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

export class Watchdog {
  private readonly thread: Thread;
  private readonly heartbeat = new Float64Array(new SharedArrayBuffer(8));
  private readonly timer: NodeJS.Timeout;
  private nextKey = 0;

  constructor(root: string) {
    this.beat();
    this.thread = new Thread(new URL('./watchdog-thread.js', import.meta.url), {
      workerData: {
        heartbeat: this.heartbeat.buffer,
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
    const key = (this.nextKey += 1);
    this.thread.postMessage({ type: 'start', key, deadline: Date.now() + record.timeoutSeconds * 1000 + WATCHDOG_GRACE_MS, request: record });
    return () => this.thread.postMessage({ type: 'end', key });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.thread.terminate();
  }
}
