/**
 * The worker signals on the backend (`queue restart`, `queue pause`, cancels of running jobs) as
 * one worker knows them. They may be SIGNAL_POLL_MS old when the worker takes jobs; it reads them
 * on a timer a little sooner (SIGNAL_REFRESH_MS after the last read), idle or busy, so a take never
 * waits for them: on PostgreSQL that read cost an idle worker's pick-up a round trip every other job
 * (about 2 ms of its 10). Each read cancels the running jobs whose cancel was asked for; a read on
 * the timer that finds queues paused or resumed, or a restart asked for, tells the worker (idle, it
 * wakes). A read on the timer that fails is tried again on the timer: a busy worker at concurrency 1
 * reads them nowhere else.
 */
import type { Logger } from 'pino';
import type { Driver, WorkerSignals } from '../contract/driver.ts';
import { cancelAttempts } from '../running/attempt.ts';

const SIGNAL_POLL_MS = 1_000;
const SIGNAL_REFRESH_MS = 800;

export class BackendSignals {
  current: WorkerSignals = { now: 0, restartRequestedAt: null, paused: [], cancelRequested: [] };
  /** Job ids whose cancel was asked for, as of the last read. */
  cancelRequested: ReadonlySet<string> = new Set();
  private readAt = 0;
  private reading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly driver: Driver,
    private readonly log: Logger,
    private readonly changed: () => void,
  ) {}

  /** The last read is too old to take jobs by. */
  get due(): boolean {
    return Date.now() - this.readAt >= SIGNAL_POLL_MS;
  }

  /** Reads them now (a failure is the caller's: an outage). */
  async read(): Promise<void> {
    this.current = await this.driver.signals();
    this.readAt = Date.now();
    this.cancelRequested = new Set(this.current.cancelRequested);
    if (this.cancelRequested.size > 0) cancelAttempts(this.cancelRequested);
    this.planRefresh();
  }

  /** No more reads on the timer. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private planRefresh(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh(), SIGNAL_REFRESH_MS);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    if (this.reading || this.stopped) return;
    this.reading = true;
    const before = this.current;
    try {
      await this.read();
    } catch (error) {
      // The worker reports the outage when it reads them itself (see the header for the retry).
      this.log.debug({ err: (error as Error).message }, `could not read the worker signals: ${(error as Error).message}`);
      this.planRefresh();
      return;
    } finally {
      this.reading = false;
    }
    const { paused, restartRequestedAt } = this.current;
    if (restartRequestedAt !== before.restartRequestedAt || paused.length !== before.paused.length || paused.some((queue) => !before.paused.includes(queue))) this.changed();
  }
}
