/**
 * The worker loop: take as many jobs as there are free slots from the first non-paused queue that
 * has any (through its job source, job-source.ts), run them, and after every step ask stopIfNecessary()
 * whether to go on. A slot is free once its job has finished; the ack follows in the background.
 * Planned stops are graceful: no new jobs, in-flight ones finish, and every ack lands before run()
 * returns.
 */
import { EventEmitter } from 'node:events';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { canBlock, canHold, type Driver, type Reservation } from '../contract/driver.ts';
import { describeError } from '../errors.ts';
import { payloadRules, type PayloadRules } from '../jobs/payload.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { endedRetention, retentionByClass, type JobDefaults, type Keep, type Retention } from '../jobs/settings.ts';
import { startPruning } from './pruning.ts';
import { Cancellation } from '../running/attempt.ts';
import { runReservation, type RunContext, type RunResult } from '../running/run-reservation.ts';
import type { Watchdog } from '../running/watchdog.ts';
import { BackendSignals } from './backend-signals.ts';
import { Heartbeat } from './heartbeat.ts';
import { HoldingSource } from './holding-source.ts';
import { emptyMessage, OtherQueuesHint } from './idle-hints.ts';
import { Outage } from './outage.ts';
import type { JobSource } from './job-source.ts';
import { ReservingSource } from './reserving-source.ts';
import type { WorkerEvents } from './events.ts';
import { stopIfNecessary, stopReason, type StopReason } from './stop.ts';

/** The busy loop lets the event loop run at least this often, ms. */
const YIELD_EVERY_MS = 1;

export interface WorkerOptions {
  queues: string[];
  concurrency: number;
  /** Seconds to wait when no job is ready. */
  sleep: number;
  /** Seconds to rest after each batch of jobs. */
  rest: number;
  maxJobs?: number;
  maxTime?: number;
  memory?: number;
  once: boolean;
  stopWhenEmpty: boolean;
  defaults: JobDefaults;
  /** Seconds added to a job's timeout to make its lease. */
  leaseMargin: number;
  /** How payloads are opened (default: no APP_KEY, unsigned, 16 MiB). */
  payloads?: PayloadRules;
  /** Enforces timeouts on jobs that block the event loop (see watchdog.ts). */
  watchdog?: Watchdog;
  /** The connection's retention of finished records (default: an hour, 1,000 per queue). */
  keep?: Keep;
  /** How `queue workers` and the dashboard name it (default host:pid). */
  name?: string;
  /** Jobs started ahead of running them when they are fast (default 0: none; see holding-source.ts). */
  prefetch?: number;
}

export class Worker extends EventEmitter<WorkerEvents> {
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids of the jobs running now, for the heartbeat. */
  private readonly running = new Set<string>();
  private readonly heartbeat: Heartbeat;
  /** Acks of done jobs still on their way to the backend, and hooks still running (their slots are already free). */
  private readonly recording = new Set<Promise<unknown>>();
  private readonly source: JobSource;
  /** How the records of jobs that end without completing (cancelled, expired) are kept. */
  private readonly endedKeeping: Retention;
  private readonly cancel = new Cancellation();
  private stopping: StopReason | null = null;
  private processed = 0;
  private pausedBySignal = false;
  private startedAt = Date.now();
  /** When this worker started, by the backend's clock: `queue restart` stamps use that clock too. */
  private startedAtBackend: number | undefined;
  private readonly signals: BackendSignals;
  private wakeUp: (() => void) | undefined;
  private readonly outage: Outage;
  private readonly otherQueues: OtherQueuesHint;
  /** RSS, read at most once a second: reading it costs more than running a trivial job. */
  private rss = { bytes: 0, readAt: 0 };

  constructor(
    private readonly driver: Driver,
    private readonly registry: JobRegistry,
    readonly options: WorkerOptions,
    private readonly log: Logger,
  ) {
    super();
    this.outage = new Outage(log, driver.connection, options.sleep * 1000);
    this.signals = new BackendSignals(driver, log, () => this.wakeUp?.());
    this.otherQueues = new OtherQueuesHint(driver, options.queues, log);
    this.endedKeeping = endedRetention(options.keep, `connection '${driver.connection}'`);
    const sourceOptions = {
      concurrency: options.concurrency,
      defaultTimeoutMs: options.defaults.timeout * 1000,
      leaseMarginMs: options.leaseMargin * 1000,
      keeping: this.endedKeeping,
      prefetch: options.prefetch ?? 0,
    };
    // Starting jobs ahead (prefetch) is a holding source's: a driver that can hold does it at any concurrency.
    const holding = canHold(driver) && ((options.prefetch ?? 0) > 0 || (driver.holdsAheadAt?.(options.concurrency) ?? true));
    this.source = holding ? new HoldingSource(driver, sourceOptions, log) : new ReservingSource(driver, sourceOptions);
    this.heartbeat = new Heartbeat(driver, { name: options.name, queues: options.queues, concurrency: options.concurrency }, {
      running: () => [...this.running],
      jobsDone: () => this.processed,
      rssBytes: () => this.currentRss(),
    }, log);
  }

  /** Take no new jobs; let in-flight ones finish. */
  stop(reason: StopReason): void {
    this.stopping ??= reason;
    this.wakeUp?.();
  }

  /** Stop at once: in-flight jobs are handed back to the queue. */
  stopNow(): void {
    this.stopping = stopReason('interrupted', 'stopped at once; in-flight jobs handed back');
    this.cancel.cancel(new Error('the worker was stopped at once'));
    this.wakeUp?.();
  }

  pause(): void {
    this.pausedBySignal = true;
    this.log.info('paused (SIGUSR2): no new jobs until SIGCONT');
  }

  resume(): void {
    // SIGCONT also follows every SIGSTOP (Ctrl-Z and fg): only a pause is worth a line.
    if (!this.pausedBySignal) return;
    this.pausedBySignal = false;
    this.log.info('resumed (SIGCONT)');
    this.wakeUp?.();
  }

  get jobsProcessed(): number {
    return this.processed;
  }

  async run(): Promise<StopReason> {
    this.startedAt = Date.now();
    const context: RunContext = {
      driver: this.driver,
      ack: (done, ms) => this.source.ack(done, ms),
      retention: retentionByClass(this.options.keep),
      cancelRequested: (id) => this.signals.cancelRequested.has(id),
      registry: this.registry,
      payloads: this.options.payloads ?? payloadRules({}),
      defaults: this.options.defaults,
      log: this.log,
      cancel: this.cancel,
      watchdog: this.options.watchdog,
      onStarted: (run, waitedMs) => {
        if (run.id !== null) this.running.add(run.id);
        if (waitedMs !== undefined) this.heartbeat.tally.waited(run.queue, waitedMs);
        this.emit('started', run);
      },
    };

    const stopPruning = startPruning(this.driver, this.registry, context.retention, this.endedKeeping.keepMs, this.log);
    // Beats once the backend has answered: a worker that cannot reach it is not one to list.
    this.once('ready', () => this.heartbeat.start());
    try {
      return await this.loop(context);
    } finally {
      stopPruning();
      this.signals.stop();
      await this.heartbeat.stop();
    }
  }

  private async loop(context: RunContext): Promise<StopReason> {
    /** The queues (joined) of the last wait when it saw nothing come ready on them: no take before the next wait. Named only off the busy path. */
    let quietOn: string | undefined;
    let yieldedAt = performance.now();
    while (!this.shouldStop()) {
      const free = this.freeSlots();
      if (free <= 0) {
        await Promise.race(this.inFlight);
        continue;
      }
      const queues = await this.activeQueues();
      if (queues === undefined) continue;
      if (queues.length === 0) {
        this.source.giveBack();
        await this.idle(queues);
        continue;
      }
      if (quietOn !== undefined && quietOn === queues.join('\n')) {
        if (await this.idle(queues)) quietOn = undefined;
        continue;
      }

      let reservations: Reservation[];
      try {
        reservations = await this.source.take(queues, free, this.budget());
        this.outage.ok();
      } catch (error) {
        await this.sleep(this.outage.failed(error));
        continue;
      }

      if (reservations.length === 0) {
        if (this.inFlight.size === 0 && (this.options.stopWhenEmpty || this.options.once)) {
          this.stop(this.options.once ? stopReason('once', 'the queue is empty') : stopReason('empty', await emptyMessage(this.driver, this.options.queues)));
          break;
        }
        await this.otherQueues.check();
        quietOn = (await this.idle(queues)) ? undefined : queues.join('\n');
        continue;
      }
      for (const reservation of reservations) this.start(context, reservation);
      if (this.options.rest > 0) await this.sleep(this.options.rest * 1000);
      // A synchronous backend (better-sqlite3) settles every await as a microtask, and jobs started
      // ahead are taken without any I/O: without a turn of the event loop now and then, signals
      // (SIGTERM) would wait until the queue is empty, and replies and acks until the jobs ran out.
      // One a millisecond at most: a turn per job cost short jobs a tenth of their speed.
      else if (performance.now() - yieldedAt >= YIELD_EVERY_MS) {
        await yieldToEventLoop();
        yieldedAt = performance.now();
      }
    }

    await Promise.allSettled([...this.inFlight]);
    await this.source.close();
    await Promise.allSettled([...this.recording]);
    return this.stopping ?? stopReason('signal', 'stopped');
  }

  private start(context: RunContext, reservation: Reservation): void {
    const unrecorded = (error: unknown) => {
      // The outcome could not be recorded (backend gone): the lease runs out and the job runs again.
      this.log.error({ err: describeError(error), handle: reservation.handle }, `could not record a job's outcome: ${(error as Error).message}; it will run again after its lease`);
    };
    const running: Promise<void> = runReservation(context, reservation)
      .then((result) => {
        this.finished(result);
        if (result.acked) {
          this.keepTrack(result.acked.then((acked) => {
            if (acked) this.heartbeat.tally.finished(result.run.queue, 'completed', result.ms);
            this.tell(acked ? 'completed' : 'lost', result);
          }).catch(unrecorded));
        }
        // A completed() or retrying() hook runs after the slot is free; a graceful stop waits for it.
        if (result.hooked) this.keepTrack(result.hooked);
      })
      .catch((error) => {
        this.processed += 1;
        unrecorded(error);
      })
      .finally(() => {
        this.inFlight.delete(running);
        this.wakeUp?.();
      });
    this.inFlight.add(running);
  }

  /** Work that outlives a job's slot (its ack, its hooks): run() waits for it before it returns. */
  private keepTrack(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.recording.delete(tracked));
    this.recording.add(tracked);
  }

  private finished(result: RunResult): void {
    const { outcome, run } = result;
    if (run.id !== null) this.running.delete(run.id);
    if (outcome.status !== 'handed-back') this.processed += 1;
    if (outcome.status === 'released') {
      this.heartbeat.tally.finished(run.queue, 'retried', result.ms);
      this.tell('retrying', result, { error: outcome.error, delay: outcome.delay });
    } else if (outcome.status === 'failed') {
      this.heartbeat.tally.finished(run.queue, 'failed', result.ms);
      this.tell('failed', result, { error: typeof outcome.error === 'string' ? new Error(outcome.error) : outcome.error });
    }
    else if (outcome.status === 'lost') this.tell('lost', result);
    else if (outcome.status === 'cancelled') this.tell('cancelled', result);
    if (result.hung) {
      this.stop(stopReason('hung-job', 'a job ignored its timeout and may still be running; exiting so a fresh process takes over'));
    }
  }

  /** Emits a job's event, built only when someone listens: at thousands of jobs a second every object shows. */
  private tell(event: 'completed' | 'lost' | 'retrying' | 'failed' | 'cancelled', result: RunResult, extra: object = {}): void {
    if (this.listenerCount(event) === 0) return;
    (this.emit as (event: string, payload: object) => boolean)(event, { ...result.run, ms: result.ms, ...extra });
  }

  private shouldStop(): boolean {
    if (this.stopping) return true;
    const reason = stopIfNecessary({
      processed: this.processed,
      startedAt: this.startedAt,
      now: Date.now(),
      rssBytes: this.currentRss(),
      restartRequestedAt: this.startedAtBackend === undefined ? null : this.signals.current.restartRequestedAt,
      startedAtBackend: this.startedAtBackend ?? 0,
      options: this.options,
    });
    if (reason) this.stop(reason);
    return reason !== null;
  }

  private currentRss(): number {
    const now = Date.now();
    if (now - this.rss.readAt >= 1_000) this.rss = { bytes: process.memoryUsage.rss(), readAt: now };
    return this.rss.bytes;
  }

  private freeSlots(): number {
    return Math.min(this.options.concurrency - this.inFlight.size, this.budget());
  }

  /** How many more jobs this worker may start in all (--max-jobs, --once). */
  private budget(): number {
    const started = this.processed + this.inFlight.size;
    if (this.options.once) return 1 - started;
    return this.options.maxJobs === undefined ? Number.POSITIVE_INFINITY : this.options.maxJobs - started;
  }

  /** The queues to take from now, in priority order; undefined if the backend cannot be read. */
  private async activeQueues(): Promise<string[] | undefined> {
    if (this.signals.due) {
      try {
        await this.signals.read();
        this.outage.ok();
      } catch (error) {
        await this.sleep(this.outage.failed(error));
        return undefined;
      }
      if (this.startedAtBackend === undefined) {
        this.startedAtBackend = this.signals.current.now;
        this.emit('ready');
      }
      if (this.shouldStop()) return [];
    }
    if (this.pausedBySignal) return [];
    const paused = new Set(this.signals.current.paused);
    return this.options.queues.filter((queue) => !paused.has(queue));
  }

  /**
   * Nothing to take: wait for a slot to free up, a wake-up, or the sleep to pass. A driver that can
   * wait for jobs (Redis, SQL: BlockingWait) wakes soon after one is ready instead. False: the driver
   * watched the whole wait and saw no job come ready, so the loop waits again without a take.
   */
  private async idle(queues: string[]): Promise<boolean> {
    if (!canBlock(this.driver) || queues.length === 0) {
      await this.sleep(this.options.sleep * 1000);
      return true;
    }
    // Ended early by what ends a sleep: a stop, a slot freed up, SIGCONT.
    const woken = new AbortController();
    this.wakeUp = () => woken.abort();
    try {
      return (await this.driver.waitForJobs(queues, this.untilMaxTime(this.options.sleep * 1000), woken.signal)) || woken.signal.aborted;
    } catch (error) {
      await this.sleep(this.outage.failed(error));
      return true;
    } finally {
      this.wakeUp = undefined;
    }
  }

  /** `ms`, or less when `--max-time` comes first. */
  private untilMaxTime(ms: number): number {
    const { maxTime } = this.options;
    return maxTime === undefined ? ms : Math.max(0, Math.min(ms, this.startedAt + maxTime * 1000 - Date.now()));
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}

