/**
 * BlockingWait on SQL: an idle worker waits here until a job may be ready on its queues, its
 * `--sleep` passed (the worker then waits again, and claims only after a wait that saw a job), or
 * the worker ends the wait itself (it stops, a slot frees up, its signals changed), and at most
 * 5 s. Each wait first reads when the next job is ready (sql/nextReady.ts): a job ready now ends it
 * at once, a delayed one or a backoff caps it at its due time.
 *
 * PostgreSQL tells: a push, a retry of a failed job and a release with no delay send NOTIFY
 * <jobs>_ready with the queue, sent at commit (a push rolled back tells nobody), which the driver's
 * listening connection hears (Notices). The waiter returns 0.1 ms after the push commits; the rest
 * of a pick-up is the push's statement and the worker's one turn that claims and starts the job
 * (bench: p50 7.8 ms from the push call, two round trips between processes that were idle). A
 * notice lost to a reconnect costs at most the rest of the wait.
 *
 * MariaDB cannot tell another connection anything, so the waiter looks again: 50 ms after a wait
 * that found work, a quarter longer after each empty look, 150 ms once idle for half a second. Half
 * the pushes then wait less than 75 ms for the look that finds them (bench: p50 80 ms, against
 * 1.45 s when an idle worker claimed every `--sleep` of 3 s); longer pauses would break the SPEC's
 * 100 ms. The look is compiled and prepared once, but each is a round trip: these seven looks a
 * second are most of what an idle MariaDB worker sends (7 of its 10 statements a second) and of the
 * 1.2% of a core it uses settled.
 *
 * A wait that ran to its end with nothing seen says so (false): the worker then waits again without
 * a take, since the look, the claim's own test, just found nothing ready.
 *
 * SQLite keeps a change marker (PRAGMA data_version, read in-process in microseconds) that moves
 * when another connection commits, and the file system tells of each write to its log (the
 * dialect's watchWrites): the waiter reads the marker on each write, again 10 ms later when it had
 * not moved yet, and once a second in case a write went untold, and looks only when it moved, at
 * most once every 25 ms (workers busy on another queue move it thousands of times a second). Its
 * own writes (a heartbeat) do not move it. Pick-up went from 63 ms p50 (on the timer above) to
 * 4 ms, and a settled idle worker's CPU to 0.7 to 1.3% of a core (bench, three rounds: 0.9%).
 * Where the folder cannot be watched it reads the marker on the timer.
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
/**
 * Where the file system tells of writes: the marker is read on each, again this long after one that
 * had not moved it yet (the writer updates it just after its last write), and at least this often
 * in case a write went untold (ms).
 */
const RECHECK_MS = 10;
const WATCHED_LOOK_MS = 1_000;
/**
 * The least time between two looks where writes are told: other workers busy on another queue
 * commit thousands of times a second, each moving the marker.
 */
const LOOK_GAP_MS = 25;

/** Hears the queue of each job ready from now on; resolves, once listening, to the unsubscribe. */
export type ReadyNotices = (hear: (queue: string) => void) => Promise<() => void>;

/** Calls `onWrite` when the database may have been written; returns the unsubscribe, or undefined when it cannot tell. */
export type WriteWatch = (onWrite: () => void) => (() => void) | undefined;

export class JobWaiter {
  private lookMs = FIRST_LOOK_MS;
  private readonly wakes = new Set<Wake>();

  /**
   * `look` reads sql/nextReady.ts. Where the database tells (PostgreSQL), `notices` hear each job
   * ready; where it keeps a change marker (SQLite), the waiter reads `changes` and looks only when
   * it moved: when `writes` tells of a write, else on the polling timer.
   */
  constructor(
    private readonly look: (queues: string[]) => Promise<NextReady>,
    private readonly sources: { notices?: ReadyNotices; changes?: () => number; writes?: WriteWatch } = {},
  ) {}

  /** Jobs were stored on `queues` through this driver: its waiters for them look now. */
  stored(queues: Iterable<string>): void {
    for (const queue of queues) for (const wake of this.wakes) wake.hear(queue);
  }

  /**
   * Returns when a job may be ready on one of `queues`, after `maxMs` (at most MAX_WAIT_MS), or once
   * `abort` fires. False: the time passed, and no look, notice or push of this process saw a job
   * come ready meanwhile (the first look is part of the wait, so a job stored after the last look
   * is seen by the next wait's first).
   */
  async wait(queues: string[], maxMs: number, abort?: AbortSignal): Promise<boolean> {
    if (maxMs <= 0 || abort?.aborted) return true;
    const until = Date.now() + Math.min(maxMs, MAX_WAIT_MS);
    const wake = new Wake(queues);
    const ended = () => wake.end();
    abort?.addEventListener('abort', ended, { once: true });
    this.wakes.add(wake);
    try {
      // Listening before the first look: a job pushed between the look and the wait is heard.
      const unsubscribe = await this.sources.notices?.(wake.hear);
      const unwatch = this.sources.writes?.(wake.poke);
      try {
        const found = await this.waitFor(queues, until, wake, unwatch !== undefined);
        if (found) this.lookMs = FIRST_LOOK_MS;
        return found;
      } finally {
        unwatch?.();
        unsubscribe?.();
      }
    } finally {
      this.wakes.delete(wake);
      abort?.removeEventListener('abort', ended);
    }
  }

  /** True once a job may be ready; false when `until` came first. `watching`: writes are told (see `writes`). */
  private async waitFor(queues: string[], until: number, wake: Wake, watching: boolean): Promise<boolean> {
    const { notices, changes } = this.sources;
    let marker = changes?.();
    for (;;) {
      const next = await this.look(queues);
      const lookedAt = Date.now();
      const dueAt = next.at === null ? Number.POSITIVE_INFINITY : Date.now() + (next.at - next.now);
      let recheck = false;
      for (;;) {
        if (wake.woken || Date.now() >= dueAt) return true;
        const left = until - Date.now();
        if (left <= 0) return false;
        const pause = notices ? left : watching ? (recheck ? RECHECK_MS : WATCHED_LOOK_MS) : this.lookMs;
        const ended = await wake.within(Math.min(left, dueAt - Date.now(), pause));
        if (ended === 'woken') return true;
        if (notices) continue;
        // Told of a write soon after a look: the rest of the gap first, deaf to further writes.
        const early = lookedAt + LOOK_GAP_MS - Date.now();
        if (ended === 'poked' && early > 0 && (await wake.within(Math.min(early, until - Date.now()), false)) === 'woken') return true;
        if (!watching) this.lookMs = Math.min(LAST_LOOK_MS, this.lookMs * LOOK_GROWTH);
        if (!changes) break;
        const moved = changes();
        if (moved !== marker) {
          marker = moved;
          break;
        }
        recheck = ended === 'poked';
      }
    }
  }
}

/**
 * One wait's wake-up: a notice, or a push of this process, for one of its queues; and its pokes, a
 * write the file system told of (the waiter then reads the change marker).
 */
class Wake {
  woken = false;
  private settle: ((how: 'woken' | 'poked' | 'passed') => void) | undefined;
  private poked = false;
  private hearsPokes = true;

  constructor(private readonly queues: string[]) {}

  readonly hear = (queue: string): void => {
    if (this.queues.includes(queue)) this.end();
  };

  /** Ends the wait: a job may be ready, or its worker ended it. */
  end(): void {
    if (this.woken) return;
    this.woken = true;
    this.settle?.('woken');
  }

  /** The database may have been written: ends a pause (within) early, or the next one at once. */
  readonly poke = (): void => {
    if (this.settle && this.hearsPokes) this.settle('poked');
    else this.poked = true;
  };

  /**
   * How a pause of `ms` ended: woken (end), poked (the database may have been written; not when
   * `hearPokes` is false: a poke then ends the next pause), or its time passed.
   */
  within(ms: number, hearPokes = true): Promise<'woken' | 'poked' | 'passed'> {
    if (this.woken) return Promise.resolve('woken');
    if (this.poked && hearPokes) {
      this.poked = false;
      return Promise.resolve('poked');
    }
    this.hearsPokes = hearPokes;
    return new Promise((resolve) => {
      const settle = (how: 'woken' | 'poked' | 'passed') => {
        clearTimeout(timer);
        this.settle = undefined;
        resolve(how);
      };
      const timer = setTimeout(() => settle('passed'), ms);
      this.settle = settle;
    });
  }
}
