/**
 * BlockingWait on SQL: an idle worker waits here until a job may be ready on its queues, its
 * `--sleep` passed (the worker then claims again), or the worker ends the wait itself (it stops, a
 * slot frees up, its signals changed), and at most 5 s. Each wait first reads when the next job is
 * ready (sql/nextReady.ts): a job ready now ends it at once, a delayed one or a backoff caps it at
 * its due time.
 *
 * PostgreSQL tells: a push, a retry of a failed job and a release with no delay send NOTIFY
 * <jobs>_ready with the queue, sent at commit (a push rolled back tells nobody), which the driver's
 * listening connection hears (Notices). The waiter returns 0.1 ms after the push commits; the rest
 * of a pick-up is the push's statement and the worker's one turn that claims and starts the job
 * (bench: p50 7.8 ms from the push call, two round trips between processes that were idle). A
 * notice lost to a reconnect costs at most the rest of the wait.
 *
 * MariaDB and SQLite cannot tell another connection anything, so the waiter looks again: 50 ms
 * after a wait that found work, a quarter longer after each empty look, 150 ms once idle for half a
 * second. Half the pushes then wait less than 75 ms for the look that finds them (bench: p50 80 ms
 * on SQLite and 90 ms on MariaDB, against 1.45 s when an idle worker claimed every `--sleep` of 3 s);
 * longer pauses would break the SPEC's 100 ms. SQLite keeps a change marker (PRAGMA data_version,
 * read in microseconds), so it looks only after another connection committed; MariaDB runs the
 * look every time, compiled and prepared once. Idle for 20 s, a worker used 1.25% of a core on
 * SQLite and 2.55% on MariaDB (Redis: 0.95%): MariaDB's seven looks a second are its extra percent.
 *
 * On every database, a push through this very driver (a worker and the code that dispatches, in one
 * process) wakes its waiters at once.
 */
import type { NextReady } from './sql/nextReady.ts';

/** The longest one wait lasts, whatever the worker asks (ms). */
const MAX_WAIT_MS = 5_000;
/** Polling: the first pause after work, the growth per empty look, the longest pause (ms). */
const FIRST_LOOK_MS = 50;
const LOOK_GROWTH = 1.25;
const LAST_LOOK_MS = 150;

/** Hears the queue of each job ready from now on; resolves, once listening, to the unsubscribe. */
export type ReadyNotices = (hear: (queue: string) => void) => Promise<() => void>;

export class JobWaiter {
  private lookMs = FIRST_LOOK_MS;
  private readonly wakes = new Set<Wake>();

  /**
   * `look` reads sql/nextReady.ts. Where the database tells (PostgreSQL), `notices` hear each job
   * ready; where it keeps a change marker (SQLite), polling reads `changes` and looks only when it moved.
   */
  constructor(
    private readonly look: (queues: string[]) => Promise<NextReady>,
    private readonly sources: { notices?: ReadyNotices; changes?: () => number } = {},
  ) {}

  /** Jobs were stored on `queues` through this driver: its waiters for them look now. */
  stored(queues: Iterable<string>): void {
    for (const queue of queues) for (const wake of this.wakes) wake.hear(queue);
  }

  /** Returns when a job may be ready on one of `queues`, after `maxMs` (at most MAX_WAIT_MS), or once `abort` fires. */
  async wait(queues: string[], maxMs: number, abort?: AbortSignal): Promise<void> {
    if (maxMs <= 0 || abort?.aborted) return;
    const until = Date.now() + Math.min(maxMs, MAX_WAIT_MS);
    const wake = new Wake(queues);
    const ended = () => wake.end();
    abort?.addEventListener('abort', ended, { once: true });
    this.wakes.add(wake);
    try {
      // Listening before the first look: a job pushed between the look and the wait is heard.
      const unsubscribe = await this.sources.notices?.(wake.hear);
      try {
        if (await this.waitFor(queues, until, wake)) this.lookMs = FIRST_LOOK_MS;
      } finally {
        unsubscribe?.();
      }
    } finally {
      this.wakes.delete(wake);
      abort?.removeEventListener('abort', ended);
    }
  }

  /** True once a job may be ready; false when `until` came first. */
  private async waitFor(queues: string[], until: number, wake: Wake): Promise<boolean> {
    const { notices, changes } = this.sources;
    let marker = changes?.();
    for (;;) {
      const next = await this.look(queues);
      const dueAt = next.at === null ? Number.POSITIVE_INFINITY : Date.now() + (next.at - next.now);
      for (;;) {
        if (wake.woken || Date.now() >= dueAt) return true;
        const left = until - Date.now();
        if (left <= 0) return false;
        if (await wake.within(Math.min(left, dueAt - Date.now(), notices ? left : this.lookMs))) return true;
        if (notices) continue;
        this.lookMs = Math.min(LAST_LOOK_MS, this.lookMs * LOOK_GROWTH);
        if (!changes) break;
        const moved = changes();
        if (moved !== marker) {
          marker = moved;
          break;
        }
      }
    }
  }
}

/** One wait's wake-up: a notice, or a push of this process, for one of its queues. */
class Wake {
  woken = false;
  private resolve: (() => void) | undefined;

  constructor(private readonly queues: string[]) {}

  readonly hear = (queue: string): void => {
    if (this.queues.includes(queue)) this.end();
  };

  /** Ends the wait: a job may be ready, or its worker ended it. */
  end(): void {
    if (this.woken) return;
    this.woken = true;
    this.resolve?.();
  }

  /** True when woken within `ms`, false when `ms` passed first. */
  within(ms: number): Promise<boolean> {
    if (this.woken) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.resolve = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
