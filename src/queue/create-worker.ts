/**
 * createWorker(): a worker inside the application's own process (and in tests), on a connection of
 * the project's config. `queue work` is this, with the process's signals, a watchdog thread and the
 * CLI's logger. Its events (worker/events.ts) say what became of each job.
 *
 *   const worker = createWorker({ queues: ['emails'], concurrency: 10 });
 *   worker.on('failed', ({ id, job, error }) => report(job, id, error));
 *   await worker.run();          // until stop(), a signal (handleSignals), or a --once-style limit
 *   await worker.close();        // closes the connections it opened
 */
import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { ConnectionConfig } from '../config/define.ts';
import { QueueError } from '../errors.ts';
import { isInt, LIMITS, workerDefaults, type Keep } from '../jobs/settings.ts';
import { installStrayHandlers } from '../running/strays.ts';
import { Watchdog, WATCHDOG_RECORD_SECONDS } from '../running/watchdog.ts';
import type { WorkerEvents } from '../worker/events.ts';
import { installSignalHandlers } from '../worker/signals.ts';
import { stopReason, type StopReason } from '../worker/stop.ts';
import { Worker } from '../worker/Worker.ts';
import { queueManager } from './dispatch.ts';
import type { QueueManager } from './manager.ts';
import { Scheduler } from './scheduler.ts';
import { configSchedules } from './schedules.ts';

export interface CreateWorkerOptions {
  /** The connection to work (default: the configured default). */
  connection?: string;
  /** Queues in priority order (default ['default']). */
  queues?: string[];
  /** Jobs run at once (default 1). */
  concurrency?: number;
  /**
   * Start up to this many short jobs ahead of running them, one round trip for many (default 0:
   * none). A job is started ahead only when jobs finish faster than a round trip; a worker killed
   * (not stopped) has used a try of each job it started ahead and had not run, and those run again
   * once their lease is over, as a running job would.
   */
  prefetch?: number;
  /** How `queue workers` and the dashboard name this worker (default host:pid). */
  name?: string;
  /** Where job and worker lines go (default: nowhere). */
  logger?: Logger;
  /**
   * Let the worker own the process: SIGTERM, SIGINT and SIGQUIT stop it gracefully (a second SIGINT
   * at once), SIGUSR2 pauses and SIGCONT resumes, and an error that escapes a job (an unawaited
   * rejection, a throw in a callback) fails that job instead of ending the process. Default false.
   */
  handleSignals?: boolean;
  /**
   * A watchdog thread that records the timeout of a job that blocks the event loop and then ends
   * this process with SIGKILL, for a process manager to restart. Default false: for `queue work`.
   */
  watchdog?: boolean;
  /** Seconds to wait when no job is ready (default 3). */
  sleep?: number;
  /** Seconds to rest after each batch (default 0). */
  rest?: number;
  /** Stop after this many jobs, after this many seconds, or past this many MB of memory. */
  maxJobs?: number;
  maxTime?: number;
  memory?: number;
  /** Run one job, then stop; stop when the queues are empty. */
  once?: boolean;
  stopWhenEmpty?: boolean;
  /**
   * Run the connection's schedules (config/schedule.ts and those added at run time) beside the jobs.
   * Default true; a worker with `once` or `stopWhenEmpty` never does (it is draining, not serving).
   */
  schedule?: boolean;
  /** For jobs whose class declares none: timeout (s), tries, backoff (s). */
  timeout?: number;
  maxTries?: number;
  backoff?: number[];
}

/** What `queue work` adds: its own manager, and the stop signals that came before it listened. */
interface Internals {
  manager?: QueueManager;
  afterSignalHandlers?: () => void;
}

const WORKER_EVENTS: (keyof WorkerEvents)[] = ['ready', 'started', 'completed', 'retrying', 'failed', 'cancelled', 'lost'];

export class QueueWorker extends EventEmitter<WorkerEvents> {
  private worker: Worker | undefined;
  private running: Promise<StopReason> | undefined;
  private watchdog: Watchdog | undefined;
  private stopRequested = false;
  private readonly log: Logger;

  constructor(
    readonly options: CreateWorkerOptions = {},
    private readonly internals: Internals = {},
  ) {
    super();
    this.log = options.logger ?? pino({ level: 'silent' });
  }

  /** Runs until it stops; resolves with why (the code `queue work` exits with is `exitCode`). */
  run(): Promise<StopReason> {
    this.running ??= this.work();
    return this.running;
  }

  private async work(): Promise<StopReason> {
    const options = this.options;
    const manager = this.internals.manager ?? (await queueManager());
    const driver = await manager.driver(options.connection);
    const registry = await manager.registry();
    for (const warning of registry.warnings) this.log.warn(warning);
    for (const helper of registry.helpers) this.log.debug(helper);
    const concurrency = options.concurrency ?? 1;
    const prefetch = options.prefetch ?? 0;
    if (!isInt(prefetch, 0, LIMITS.prefetch)) throw new QueueError('INVALID_ARGUMENT', `createWorker: prefetch must be a whole number from 0 to ${LIMITS.prefetch}, got ${String(prefetch)}`);
    const queues = options.queues ?? ['default'];
    const defaults = workerDefaults({ timeout: options.timeout, maxTries: options.maxTries, backoff: options.backoff });
    if (options.watchdog) {
      if (manager.config.leaseMargin < WATCHDOG_RECORD_SECONDS) {
        this.log.warn(`leaseMargin is ${manager.config.leaseMargin}s: a job that blocks the event loop is retried as if its worker crashed, without a timeout on record (that takes about ${WATCHDOG_RECORD_SECONDS}s; see config/queue.ts)`);
      }
      this.watchdog = new Watchdog(manager.root, concurrency, { connection: driver.connection, defaults }, this.log);
    }
    const worker = new Worker(driver, registry, {
      queues,
      concurrency,
      prefetch,
      sleep: options.sleep ?? 3,
      rest: options.rest ?? 0,
      maxJobs: options.maxJobs,
      maxTime: options.maxTime,
      memory: options.memory,
      once: options.once === true,
      stopWhenEmpty: options.stopWhenEmpty === true,
      defaults,
      leaseMargin: manager.config.leaseMargin,
      payloads: manager.payloads,
      watchdog: this.watchdog,
      keep: keepOf(manager.config.connections[driver.connection]),
      name: options.name,
    }, this.log);
    this.worker = worker;
    const scheduler = options.schedule !== false && !options.once && !options.stopWhenEmpty ? new Scheduler(manager, driver, this.log) : undefined;
    // A schedule whose job is not registered, or an entry that is not one, fails here, at start.
    if (scheduler) await configSchedules(manager);
    for (const event of WORKER_EVENTS) worker.on(event, (...args: unknown[]) => (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args));
    const uninstall: (() => void)[] = [];
    if (options.handleSignals) {
      uninstall.push(installSignalHandlers(worker, this.log));
      this.internals.afterSignalHandlers?.();
      uninstall.push(installStrayHandlers(this.log, registry.all().map((job) => job.file)));
    }
    if (this.stopRequested) worker.stop(stopReason('signal', 'stop() was called'));
    // Said once the backend has answered: a worker that cannot reach it says that instead.
    worker.once('ready', () => {
      this.log.info({ connection: driver.connection, queues, concurrency }, `worker started on ${driver.connection}: ${queues.join(', ')}`);
      scheduler?.start();
    });
    let reason: StopReason;
    try {
      reason = await worker.run();
    } finally {
      for (const remove of uninstall.reverse()) remove();
      await scheduler?.stop();
      await this.watchdog?.stop();
      this.watchdog = undefined;
    }
    this.log.info({ reason: reason.code, exitCode: reason.exitCode, processed: worker.jobsProcessed }, `worker stopped: ${reason.message} (exit ${reason.exitCode})`);
    return reason;
  }

  /** Takes no new jobs; run() resolves once the running ones have finished. */
  stop(): void {
    this.stopRequested = true;
    this.worker?.stop(stopReason('signal', 'stop() was called'));
  }

  /** Jobs this worker has finished (done or failed). */
  get jobsProcessed(): number {
    return this.worker?.jobsProcessed ?? 0;
  }

  /** Stops it, waits for its jobs, and closes the connections it opened (not a manager it was given). */
  async close(): Promise<void> {
    this.stop();
    await this.running?.catch(() => undefined);
    if (!this.internals.manager) await (await queueManager()).close();
  }
}

export function createWorker(options: CreateWorkerOptions = {}): QueueWorker {
  return new QueueWorker(options);
}

/** A connection's `keep`: sync keeps nothing to keep. */
function keepOf(connection: ConnectionConfig | undefined): Keep | undefined {
  return connection && connection.driver !== 'sync' ? connection.keep : undefined;
}
