/**
 * Hard timeouts for jobs that block the event loop. A job that ignores its AbortSignal but still
 * yields is caught on the main thread (see attempt.ts); one that never yields (`while (true) {}`)
 * can only be seen from another thread. This is the main thread's side of that watchdog: a
 * heartbeat in shared memory, and a note per running job with its deadline and what the recorder
 * needs to settle it (watchdog-note.ts has the layout; watchdog-thread.ts is the other side).
 */
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FreezeClock } from './attempt.ts';
import { encodeNote, sharedMemory, sharedViews, type Slot, type TimeoutRecord, type WatchdogThreadData, type WatchedJob } from './watchdog-note.ts';

export type { TimeoutRecord } from './watchdog-note.ts';

/** Heartbeat period; the main thread counts as stuck after STALE_MS without one. */
const HEARTBEAT_MS = 250;
/**
 * With no job watched for this long, both sides stop (no beats, no polls) until the next job: an
 * idle worker then wakes only for its queue. Nothing is lost meanwhile: a stuck main thread matters
 * only with a job past its deadline, and a freeze only to a running job's timeout.
 */
const PAUSE_AFTER_MS = 2_000;
const STALE_MS = 1_500;
/**
 * The watchdog thread looks every POLL_MS; when it finds it has not run for FREEZE_MS longer than
 * that, the whole process was stopped (SIGSTOP, a paused container, a frozen VM), not blocked by a
 * job, and that time counts for no job. The main thread, when it has not run for FREEZE_MS, waits
 * for the thread to measure before it calls a job late.
 */
const POLL_MS = 200;
const FREEZE_MS = 1_000;
/** Past its timeout, how long a job may go on before the watchdog steps in. */
const WATCHDOG_GRACE_MS = 1_000;
/**
 * From a job's timeout to its timeout being on record when it blocks the event loop: the grace,
 * the stale heartbeat, and a recorder process starting. A lease margin shorter than this lets
 * another worker take the job first; it is then retried as if its worker had crashed.
 */
export const WATCHDOG_RECORD_SECONDS = 5;

/** A watchdog thread that dies more often than this is not started again. */
const MAX_RESTARTS = 3;

export class Watchdog implements FreezeClock {
  private thread: Thread;
  private readonly memory: SharedArrayBuffer;
  private readonly heartbeat: Float64Array;
  /** Written by the watchdog thread: the ms this process has spent frozen. */
  private readonly frozen: Float64Array;
  /** performance.now() of this thread's last heartbeat. */
  private lastBeat = performance.now();
  /** Views of each slot, made once: a job's note is then one encode into shared memory. */
  private readonly slots: Slot[];
  private readonly free: number[];
  private readonly encoder = new TextEncoder();
  private timer: NodeJS.Timeout | undefined;
  /** Jobs being watched, and performance.now() when the last one ended. */
  private watched = 0;
  private lastWatched = performance.now();
  private nextKey = 0;
  private restarts = 0;
  private stopped = false;
  /** Settles when the current thread has set itself up (its first message). */
  private started!: Promise<void>;

  constructor(
    private readonly root: string,
    slots: number,
    private readonly worker: Pick<TimeoutRecord, 'connection' | 'defaults'>,
    private readonly log: Logger,
  ) {
    this.memory = sharedMemory(slots);
    ({ heartbeat: this.heartbeat, frozen: this.frozen, slots: this.slots } = sharedViews(this.memory));
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    this.thread = this.startThread();
    this.resume();
  }

  private startThread(): Thread {
    const data: WatchdogThreadData = {
      memory: this.memory,
      bin: fileURLToPath(new URL('../../bin/queue.js', import.meta.url)),
      cwd: this.root,
      staleMs: STALE_MS,
      pollMs: POLL_MS,
      freezeMs: FREEZE_MS,
      worker: this.worker,
    };
    // The thread is this folder's watchdog-thread.ts, as compiled beside this file in dist/.
    const thread = new Thread(new URL(`./watchdog-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url), { workerData: data });
    thread.unref();
    this.started = new Promise((resolve) => {
      thread.once('message', () => resolve());
      thread.once('exit', () => resolve());
    });
    // Without a listener a thread's error would end this process; the notes in shared memory
    // survive it, so a new thread simply carries on watching.
    thread.on('error', (error) => {
      if (this.stopped) return;
      this.restarts += 1;
      if (this.restarts > MAX_RESTARTS) {
        this.log.error({ err: error.message }, `the watchdog thread failed ${this.restarts} times (${error.message}); jobs that block the event loop are no longer stopped at their timeout`);
        return;
      }
      this.log.error({ err: error.message }, `the watchdog thread failed (${error.message}); starting it again`);
      this.thread = this.startThread();
      if (this.timer === undefined) this.thread.postMessage({ type: 'pause' });
    });
    return thread;
  }

  private beat(): void {
    this.heartbeat[0] = Date.now();
    this.lastBeat = performance.now();
    if (this.watched === 0 && this.lastBeat - this.lastWatched > PAUSE_AFTER_MS) this.pause();
  }

  /** Beats again, and the thread polls again, from now: the pause counts as neither stuck nor frozen. */
  private resume(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    this.thread.postMessage({ type: 'resume' });
  }

  private pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.thread.postMessage({ type: 'pause' });
  }

  /**
   * Settles once the watchdog thread has started (tens of milliseconds of a core after the
   * constructor). Nothing needs to wait for it; a benchmark does, so that the thread's start-up is
   * not counted as the first jobs' time (as BullMQ's is not: its Worker.waitUntilReady()).
   */
  ready(): Promise<void> {
    return this.started;
  }

  frozenMs(): number {
    return this.frozen[0]!;
  }

  mayHaveJustResumed(): boolean {
    return performance.now() - this.lastBeat > FREEZE_MS;
  }

  /** Starts watching one attempt; returns the function that stops watching it. */
  watch(record: WatchedJob): () => void {
    // Counted first: resume() beats, and a beat with nothing watched for a while would pause again.
    this.watched += 1;
    if (this.timer === undefined && !this.stopped) this.resume();
    const unwatch = this.note(record);
    return () => {
      unwatch();
      this.watched -= 1;
      this.lastWatched = performance.now();
    };
  }

  private note(record: WatchedJob): () => void {
    const deadline = Date.now() + record.timeoutSeconds * 1000 + WATCHDOG_GRACE_MS;
    const note = encodeNote(record);
    const index = this.free.pop();
    if (index !== undefined) {
      const slot = this.slots[index]!;
      const { read, written } = this.encoder.encodeInto(note, slot.note);
      if (read === note.length) {
        slot.header[1] = written;
        slot.header[2] = this.frozenMs();
        slot.header[0] = deadline;
        return () => {
          slot.header[0] = 0;
          this.free.push(index);
        };
      }
      this.free.push(index);
    }
    const key = (this.nextKey += 1);
    this.thread.postMessage({ type: 'start', key, deadline, frozenAtStart: this.frozenMs(), request: record });
    return () => this.thread.postMessage({ type: 'end', key });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.thread.terminate();
  }
}
