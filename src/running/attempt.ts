/**
 * Runs one attempt of a job: builds the instance from its envelope and awaits handle() under the
 * job's timeout. At the timeout ctx.signal aborts; a job that honours it settles at once, and one
 * that ignores it is given a short grace and then reported as hung, so the caller can record the
 * attempt and stop trusting this process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { JobCancelledError, JobTimeoutError, QueueError, toError } from '../errors.ts';
import type { Job, JobClass, JobContext } from '../jobs/Job.ts';
import { hydrate } from '../jobs/serialize.ts';

/** How long a job that ignores its aborted signal may take to settle before it counts as hung. */
const ABORT_GRACE_MS = 2_000;

export type AttemptResult =
  /** `value`: what handle() returned. */
  | { ok: true; value: unknown }
  /** `cancelled`: its cancel was asked for (Records.cancel). */
  | { ok: false; error: Error; timedOut: boolean; hung: boolean; cancelled?: boolean };

/** A fresh instance of the class with the job's restored fields. */
export function instantiate(jobClass: JobClass, jobName: string, data: Record<string, unknown>): Job {
  let job: Job;
  try {
    job = new jobClass();
  } catch (error) {
    throw new QueueError('PAYLOAD_INVALID', `the constructor of ${jobName} threw: ${(error as Error).message}`, { cause: error });
  }
  return hydrate(job, data);
}

/**
 * Which attempt an error that escaped its job (a rejection nobody awaited, an exception in a
 * callback) came from. Precisely: every attempt's handle() runs in an AsyncLocalStorage scope,
 * which follows its promises and callbacks, and Node runs 'unhandledRejection' and
 * 'uncaughtException' handlers in the scope of what failed (see strays.ts). On Node 24 that costs
 * nothing measurable; on Node 20 and 22 it hooks every promise in the process (measured: about 20%
 * more CPU per job at concurrency 50), so there it is switched on only once an error could not be
 * tied to a job by the cheaper means (the attempts running now, and the job files in its stack).
 */
const scope = new AsyncLocalStorage<Attempt>();
let scoped = Number(process.versions.node.split('.')[0]) >= 24;
/**
 * Attempts whose handle() has not settled, as a list linked through the attempts themselves: a Set
 * of them cost the worker measurably more CPU per job at concurrency 50 than this does.
 */
let newestRunning: Attempt | undefined;

/** From now on, attempts run in a scope that strays can be traced to. */
export function traceStrays(): void {
  scoped = true;
}

/** The method by which an attempt hears an error that escaped its job (a symbol: a job sees none of it). */
export const onStray = Symbol('onStray');

export interface StrayListener {
  /** Ends the attempt with `error`; false when it had already ended. */
  [onStray](error: Error): boolean;
  readonly id: string;
  /** The job's source file, relative to the project root (as the registry has it), when known. */
  readonly file: string | undefined;
}

/** The attempt in whose async scope the caller runs, if attempts run in one. */
export function attemptInScope(): StrayListener | undefined {
  return scope.getStore();
}

/** The attempts running now, newest first. */
export function* runningAttempts(): Iterable<StrayListener> {
  for (let attempt = newestRunning; attempt; attempt = olderThan(attempt)) yield attempt;
}

/** Reads an attempt's private link (set in the class's static block: a job's context exposes no other). */
let olderThan: (attempt: Attempt) => Attempt | undefined;

/**
 * Cancels the running attempts of these job ids (their cancel was asked for: Records.cancel): each
 * one's signal aborts with a JobCancelledError and it settles at once as cancelled. Returns how many.
 */
export function cancelAttempts(ids: ReadonlySet<string>): number {
  let cancelled = 0;
  for (let attempt = newestRunning; attempt; attempt = olderThan(attempt)) {
    if (ids.has(attempt.id) && attempt[onJobCancel]()) cancelled += 1;
  }
  return cancelled;
}

const onJobCancel = Symbol('onJobCancel');

/** The method by which a listener hears the worker's "stop at once" (a symbol: a job sees none of it). */
const onCancel = Symbol('onCancel');

export interface CancelListener {
  [onCancel](reason: Error): void;
}

/**
 * The worker's "stop at once" (a second SIGINT), heard by every running attempt. A set of listeners
 * rather than an AbortSignal: an EventTarget listener added and removed per job costs more than the
 * job itself when jobs are trivial.
 */
export class Cancellation {
  private readonly listeners = new Set<CancelListener>();
  private why: Error | undefined;

  get reason(): Error | undefined {
    return this.why;
  }

  cancel(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    for (const listener of this.listeners) listener[onCancel](reason);
    this.listeners.clear();
  }

  /** `listener` hears the cancel (at once if it already happened) until it stops listening. */
  listen(listener: CancelListener): void {
    if (this.why) listener[onCancel](this.why);
    else this.listeners.add(listener);
  }

  stopListening(listener: CancelListener): void {
    this.listeners.delete(listener);
  }
}

/**
 * Time the whole process spent stopped (SIGSTOP and SIGCONT, Ctrl-Z and fg, a paused container, a
 * frozen VM) is no job's fault and does not count against its timeout. The watchdog measures it.
 */
export interface FreezeClock {
  /** Milliseconds this process has spent frozen so far. */
  frozenMs(): number;
  /**
   * Whether this thread may have just come out of a freeze that frozenMs() does not show yet (it
   * has not run for over a second): a timeout is then looked at again a moment later.
   */
  mayHaveJustResumed(): boolean;
}

/** How long a timeout waits, when the process may have just resumed, for the freeze to be measured. */
const RESUME_SETTLE_MS = 500;

export interface AttemptContext {
  id: string;
  attempt: number;
  queue: string;
  connection: string;
  /** The job's logger, asked for only if the job uses ctx.log. */
  log: () => Logger;
  timeoutSeconds: number;
  /** Cancelled when the worker must give the job up at once (a second SIGINT). */
  cancel?: Cancellation;
  /** Stores what the job reports with ctx.progress() (absent: progress is not kept). */
  progress?: (value: unknown) => Promise<void>;
  /** Measures time the process spent frozen, which the timeout does not count (absent: none is). */
  clock?: FreezeClock;
  /** The job's source file, relative to the project root: what a stray error's stack may name. */
  file?: string;
  /**
   * Called the moment the attempt settles, before anything else can run: the watchdog must stop
   * watching a job that has finished even if another job blocks the event loop right after.
   */
  onSettled?: () => void;
}

/**
 * Runs handle() and settles once: when it does, when it was cancelled (handed back at once), or
 * ABORT_GRACE_MS after the timeout if it ignored its aborted signal (hung).
 */
export function runAttempt(job: Job, context: AttemptContext): Promise<AttemptResult> {
  return new Attempt(context).run(job);
}

/**
 * One attempt, and the JobContext its job sees. Its state is private (#) so a job can reach none of
 * it. The AbortController behind `signal` is made only if the job looks at it: most jobs never do,
 * and at thousands of jobs a second every allocation shows.
 */
class Attempt implements JobContext, CancelListener, StrayListener {
  readonly id: string;
  readonly attempt: number;
  readonly queue: string;
  readonly connection: string;
  readonly file: string | undefined;
  #log: () => Logger;
  #progress: ((value: unknown) => Promise<void>) | undefined;
  #timeoutSeconds: number;
  #cancel: Cancellation | undefined;
  #controller: AbortController | undefined;
  /** Why the attempt was aborted (its timeout, or the worker's cancel); built only when it happens. */
  #abortedWith: Error | undefined;
  #timeout: JobTimeoutError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #resolve: ((result: AttemptResult) => void) | undefined;
  #onSettled: (() => void) | undefined;
  #clock: FreezeClock | undefined;
  /** The clock's frozen time already added to this attempt's timeout. */
  #frozenCounted = 0;
  /** Neighbours in the list of running attempts. */
  #newer: Attempt | undefined;
  #older: Attempt | undefined;

  constructor(context: AttemptContext) {
    this.id = context.id;
    this.attempt = context.attempt;
    this.queue = context.queue;
    this.connection = context.connection;
    this.#log = context.log;
    this.#progress = context.progress;
    this.#timeoutSeconds = context.timeoutSeconds;
    this.#cancel = context.cancel;
    this.#onSettled = context.onSettled;
    this.#clock = context.clock;
    this.file = context.file;
  }

  get log(): Logger {
    return this.#log();
  }

  progress(value: number | Record<string, unknown>): Promise<void> {
    return this.#progress ? this.#progress(value) : Promise.resolve();
  }

  static {
    olderThan = (attempt) => attempt.#older;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortedWith) this.#controller.abort(this.#abortedWith);
    }
    return this.#controller.signal;
  }

  run(job: Job): Promise<AttemptResult> {
    const done = new Promise<AttemptResult>((resolve) => (this.#resolve = resolve));
    this.#frozenCounted = this.#clock?.frozenMs() ?? 0;
    this.#timer = setTimeout(Attempt.#timeUp, this.#timeoutSeconds * 1000, this);
    this.#cancel?.listen(this);
    this.#older = newestRunning;
    if (newestRunning) newestRunning.#newer = this;
    newestRunning = this;
    try {
      const handled = scoped ? scope.run(this, Attempt.#handle, job, this) : Attempt.#handle(job, this);
      Promise.resolve(handled).then((value) => this.#finished(value), (error: unknown) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
    return done;
  }

  static #handle(job: Job, context: Attempt): unknown {
    return job.handle(context);
  }

  /** An error escaped the job (an unawaited promise, a callback): the attempt fails with it. */
  [onStray](error: Error): boolean {
    if (!this.#resolve) return false;
    this.#abort(error);
    this.#failed(error);
    return true;
  }

  /** Its cancel was asked for: it ends cancelled at once, its signal aborted. False if it had settled. */
  [onJobCancel](): boolean {
    if (!this.#resolve || this.#timeout !== undefined) return false;
    const reason = new JobCancelledError();
    this.#abort(reason);
    this.#settle({ ok: false, error: reason, timedOut: false, hung: false, cancelled: true });
    return true;
  }

  /** Told to stop at once: the job is handed back without waiting for it to settle. */
  [onCancel](reason: Error): void {
    if (this.#timeout !== undefined) return; // past its timeout already: that outcome stands
    this.#abort(reason);
    this.#settle({ ok: false, error: reason, timedOut: false, hung: false });
  }

  /**
   * The timeout: abort, then give the job ABORT_GRACE_MS to notice before calling it hung. Time the
   * process spent frozen meanwhile is given back first.
   */
  static #timeUp(attempt: Attempt): void {
    const clock = attempt.#clock;
    if (clock) {
      if (clock.mayHaveJustResumed()) {
        attempt.#timer = setTimeout(Attempt.#timeUp, RESUME_SETTLE_MS, attempt);
        return;
      }
      const frozen = clock.frozenMs();
      if (frozen > attempt.#frozenCounted) {
        attempt.#timer = setTimeout(Attempt.#timeUp, frozen - attempt.#frozenCounted, attempt);
        attempt.#frozenCounted = frozen;
        return;
      }
    }
    const timeout = new JobTimeoutError(attempt.#timeoutSeconds);
    attempt.#timeout = timeout;
    attempt.#abort(timeout);
    attempt.#graceTimer = setTimeout(() => attempt.#settle({ ok: false, error: timeout, timedOut: true, hung: true }), ABORT_GRACE_MS);
  }

  #abort(reason: Error): void {
    this.#abortedWith ??= reason;
    this.#controller?.abort(reason);
  }

  /** A job that finished after its deadline still overran it. */
  #finished(value: unknown): void {
    if (this.#timedOut()) this.#failed(this.#timeout);
    else this.#settle({ ok: true, value });
  }

  /** A job that threw because its timeout aborted it timed out. */
  #failed(error: unknown): void {
    const timedOut = this.#timedOut();
    this.#settle({ ok: false, error: timedOut ? this.#timeout! : toError(error), timedOut, hung: false });
  }

  #timedOut(): boolean {
    return this.#timeout !== undefined && this.#abortedWith === this.#timeout;
  }

  #settle(result: AttemptResult): void {
    const resolve = this.#resolve;
    if (!resolve) return;
    this.#resolve = undefined;
    if (this.#newer) this.#newer.#older = this.#older;
    else newestRunning = this.#older;
    if (this.#older) this.#older.#newer = this.#newer;
    this.#newer = this.#older = undefined;
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
    this.#cancel?.stopListening(this);
    this.#onSettled?.();
    resolve(result);
  }
}
