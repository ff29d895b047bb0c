/**
 * Runs one attempt of a job: builds the instance from its envelope and awaits handle() under the
 * job's timeout. At the timeout ctx.signal aborts; a job that honours it settles at once, and one
 * that ignores it is given a short grace and then reported as hung, so the caller can record the
 * attempt and stop trusting this process.
 */
import type { Logger } from 'pino';
import { JobTimeoutError, QueueError } from '../errors.ts';
import type { Job, JobClass, JobContext } from '../jobs/Job.ts';
import { hydrate } from '../jobs/serialize.ts';

/** How long a job that ignores its aborted signal may take to settle before it counts as hung. */
const ABORT_GRACE_MS = 2_000;

export type AttemptResult =
  | { ok: true }
  | { ok: false; error: Error; timedOut: boolean; hung: boolean };

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

/** The method by which a listener hears the worker's "stop at once" (a symbol: a job sees none of it). */
export const onCancel = Symbol('onCancel');

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
class Attempt implements JobContext, CancelListener {
  readonly id: string;
  readonly attempt: number;
  readonly queue: string;
  readonly connection: string;
  #log: () => Logger;
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

  constructor(context: AttemptContext) {
    this.id = context.id;
    this.attempt = context.attempt;
    this.queue = context.queue;
    this.connection = context.connection;
    this.#log = context.log;
    this.#timeoutSeconds = context.timeoutSeconds;
    this.#cancel = context.cancel;
    this.#onSettled = context.onSettled;
  }

  get log(): Logger {
    return this.#log();
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
    this.#timer = setTimeout(Attempt.#timeUp, this.#timeoutSeconds * 1000, this);
    this.#cancel?.listen(this);
    try {
      Promise.resolve(job.handle(this)).then(() => this.#finished(), (error: unknown) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
    return done;
  }

  /** Told to stop at once: the job is handed back without waiting for it to settle. */
  [onCancel](reason: Error): void {
    if (this.#timeout !== undefined) return; // past its timeout already: that outcome stands
    this.#abort(reason);
    this.#settle({ ok: false, error: reason, timedOut: false, hung: false });
  }

  /** The timeout: abort, then give the job ABORT_GRACE_MS to notice before calling it hung. */
  static #timeUp(attempt: Attempt): void {
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
  #finished(): void {
    if (this.#timedOut()) this.#failed(this.#timeout);
    else this.#settle({ ok: true });
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
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
    this.#cancel?.stopListening(this);
    this.#onSettled?.();
    resolve(result);
  }
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(typeof value === 'string' ? value : `non-Error thrown: ${safeString(value)}`);
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
