/**
 * Takes one reservation to its end: decode, look up, run, then ack, release or fail. Failure goes
 * in the order that never loses a job: the failed record is stored, the job removed (both in the
 * driver's one atomic step), and only then is the class's failed() hook called, best effort. The
 * completed() and retrying() hooks come after their outcome is recorded too, without holding the
 * job's slot.
 */
import type { Logger } from 'pino';
import { describeError, firstLine } from '../errors.ts';
import { encodeEnvelope, type Envelope } from '../jobs/envelope.ts';
import { encodeProgress, openPayload, sealResult, type PayloadRules } from '../jobs/payload.ts';
import type { Job, JobClass } from '../jobs/Job.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { traceTry } from '../jobs/tracing.ts';
import type { Acknowledgement, Completion, Driver, Reservation } from '../contract/driver.ts';
import { instantiate, runAttempt, type Cancellation } from './attempt.ts';
import { callHook, hasHook } from './hooks.ts';
import { DEFAULT_KEEP, hasExceededTries, retryDelaySeconds, settingsFor, shouldRetry, type JobDefaults, type Retention } from '../jobs/settings.ts';
import type { Watchdog } from './watchdog.ts';

export type Outcome =
  | { status: 'done' }
  | { status: 'released'; delay: number; error: Error; timedOut: boolean }
  | { status: 'failed'; error: Error | string; timedOut: boolean }
  /** Its cancel was asked for: it ended (or never started) and is on record as cancelled. */
  | { status: 'cancelled' }
  /** The lease was taken over before we finished: another worker owns the job now. */
  | { status: 'lost' }
  /** Handed back unfinished because the worker was told to stop at once. */
  | { status: 'handed-back' };

/** Which job a run was: for the worker's events (its name is null when the payload did not open). */
export interface JobRun {
  id: string | null;
  job: string | null;
  queue: string;
  attempt: number;
  connection: string;
}

export interface RunResult {
  outcome: Outcome;
  run: JobRun;
  /** How long the run took, ms. */
  ms: number;
  /** The job ignored its timeout and may still be running. */
  hung: boolean;
  /**
   * A done job's ack, still on its way: the job's slot is free at once, and this resolves when the
   * backend has it (false: the lease had been taken over). Other outcomes are recorded before
   * the result is.
   */
  acked?: Promise<boolean>;
  /**
   * The job's completed() hook (once `acked` has landed) or retrying() hook, still running after its
   * slot was freed; it never rejects. A graceful stop waits for it.
   */
  hooked?: Promise<void>;
}

/** What running a reservation needs from the worker that took it. */
export interface RunContext {
  driver: Driver;
  /** Acknowledges a done job that ran for `ms` (through the worker's job source, which may batch it). */
  ack: (done: Acknowledgement, ms: number) => Promise<boolean>;
  /** How long a done job of this class keeps its record (null: none). */
  retention: (jobClass: JobClass) => Retention | null;
  /** Whether a cancel of this job id was asked for (the last worker signals read). */
  cancelRequested: (id: string) => boolean;
  registry: JobRegistry;
  /** How payloads are opened: size limit, signature, decryption. */
  payloads: PayloadRules;
  defaults: JobDefaults;
  log: Logger;
  cancel: Cancellation;
  /** Catches jobs that block the event loop past their timeout (absent in tests and `sync`). */
  watchdog?: Watchdog;
  /**
   * Told when a job is about to run (after its payload opened and its tries were checked); on its
   * first try, with how long it waited since it was due (its dispatch, or the end of its delay).
   */
  onStarted?: (run: JobRun, waitedMs: number | undefined) => void;
}

export async function runReservation(p: RunContext, reservation: Reservation): Promise<RunResult> {
  const startedAt = performance.now();
  let envelope: Envelope;
  let data: Record<string, unknown>;
  try {
    ({ envelope, data } = openPayload(reservation.payload, p.payloads));
  } catch (error) {
    // The raw bytes are kept as they were: a payload that fails its checks is evidence.
    const unread: JobRun = { id: null, job: null, queue: reservation.queue, attempt: reservation.attempts, connection: p.driver.connection };
    return rejectUnrunnable(p, reservation, unread, null, null, `invalid payload: ${(error as Error).message}`);
  }
  const run: JobRun = { id: envelope.id, job: envelope.job, queue: reservation.queue, attempt: reservation.attempts, connection: p.driver.connection };
  // Made when first needed: at a level that hides the start and end lines, most jobs never need it.
  let child: Logger | undefined;
  const jobLog = () => (child ??= p.log.child({ jobId: envelope.id, job: envelope.job, queue: reservation.queue, attempt: reservation.attempts }));
  const info = p.log.isLevelEnabled('info');
  const registered = p.registry.get(envelope.job);
  if (!registered) {
    return rejectUnrunnable(p, reservation, run, envelope, jobLog(), `unknown job '${envelope.job}': no class with that name in this worker's app/jobs`);
  }
  let job: Job;
  try {
    job = instantiate(registered.jobClass, envelope.job, data);
  } catch (error) {
    return rejectUnrunnable(p, reservation, run, envelope, jobLog(), `cannot build ${envelope.job}: ${(error as Error).message}`);
  }
  const settings = settingsFor(envelope, p.defaults);
  if (hasExceededTries(reservation.attempts, settings)) {
    // Its last try ended without a word (its worker died, lost its connection or its ack, or was
    // killed at a timeout): it has failed for good all the same, so its failed() hook runs.
    return rejectUnrunnable(
      p, reservation, run, envelope, jobLog(),
      `attempted ${reservation.attempts} times, more than maxTries ${settings.maxTries}: an earlier attempt timed out or its worker died`,
      job,
    );
  }

  if (p.cancelRequested(envelope.id)) return { outcome: await recordCancelled(p, reservation, registered.jobClass, jobLog(), 0), run, ms: 0, hung: false };

  if (info) jobLog().info('started');
  p.onStarted?.(run, reservation.attempts === 1 ? Date.now() - (envelope.availableAt ?? envelope.createdAt) : undefined);
  const unwatch = p.watchdog?.watch({ reservation, jobId: envelope.id, job: envelope.job, timeoutSeconds: settings.timeout });
  const result = await traceTry(envelope, reservation.attempts, () => runAttempt(job, {
    id: envelope.id,
    attempt: reservation.attempts,
    queue: reservation.queue,
    connection: p.driver.connection,
    log: jobLog,
    timeoutSeconds: settings.timeout,
    cancel: p.cancel,
    progress: async (value) => {
      if (!(await p.driver.progress(reservation, encodeProgress(value, envelope.job)))) jobLog().warn('progress not stored: the lease was taken over');
    },
    clock: p.watchdog,
    file: registered.file,
    onSettled: unwatch,
  }));
  const elapsed = performance.now() - startedAt;
  const ms = Math.round(elapsed);

  if (result.ok) {
    const completion = completionOf(p, registered.jobClass, envelope, result.value, jobLog);
    const acked = p.ack({ reservation, completion }, elapsed).then((ok) => {
      if (!ok) lost(jobLog(), ms);
      else if (info) jobLog().info({ ms, outcome: 'done' }, `done in ${ms}ms`);
      return ok;
    });
    // An ack that failed leaves the job to run again after its lease: it has not completed.
    const hooked = hasHook(job, 'completed') ? acked.then((ok) => (ok ? callHook(job, 'completed', result.value, jobLog()) : undefined), () => undefined) : undefined;
    return { outcome: { status: 'done' }, run, ms, hung: false, acked, hooked };
  }

  if (result.cancelled) return { outcome: await recordCancelled(p, reservation, registered.jobClass, jobLog(), ms), run, ms, hung: false };

  if (p.cancel.reason !== undefined && !result.timedOut) {
    // Not the job's fault: give back the try this reservation counted.
    const released = await p.driver.release(reservation, 0, { refundAttempt: true });
    if (!released) return { outcome: lost(jobLog(), ms), run, ms, hung: result.hung };
    jobLog().warn({ ms, outcome: 'handed-back' }, 'handed back unfinished: the worker is stopping at once');
    return { outcome: { status: 'handed-back' }, run, ms, hung: result.hung };
  }

  let hooked: Promise<void> | undefined;
  const outcome = await settleFailedAttempt(p, reservation, envelope, result.error, result.timedOut, job, jobLog(), ms, (hook) => (hooked = hook));
  return { outcome, run, ms, hung: result.hung, hooked };
}

/**
 * How a done job's record is kept: its result, sealed as its fields are, for its class's retention.
 * A result that cannot be kept (a class instance, too large) does not undo the work: the job is
 * completed with no result, and the log says why.
 */
function completionOf(p: RunContext, jobClass: JobClass, envelope: Envelope, value: unknown, log: () => Logger): Completion | undefined {
  let retention: Retention | null;
  try {
    retention = p.retention(jobClass);
  } catch (error) {
    log().warn({ err: (error as Error).message }, `no record kept: ${(error as Error).message}`);
    return undefined;
  }
  if (!retention) return undefined;
  try {
    return { result: sealResult(value, envelope, p.payloads), ...retention };
  } catch (error) {
    log().warn({ err: (error as Error).message }, `result not kept: ${(error as Error).message}`);
    return { result: null, ...retention };
  }
}

/**
 * A job whose cancel was asked for ends `cancelled`: not retried, no failed() hook. Its record is
 * kept even when its class keeps none of completed jobs: whoever cancelled it may look.
 */
async function recordCancelled(p: RunContext, reservation: Reservation, jobClass: JobClass, log: Logger, ms: number): Promise<Outcome> {
  let keeping: Retention | null = null;
  try {
    keeping = p.retention(jobClass);
  } catch {
    // Its class's keep is wrong (said when a job is done): the defaults apply.
  }
  const recorded = await p.driver.cancelRunning(reservation, keeping ?? { keepMs: DEFAULT_KEEP.completed * 1000, maxPerQueue: DEFAULT_KEEP.count });
  if (!recorded) return lost(log, ms);
  log.warn({ ms, outcome: 'cancelled' }, 'cancelled');
  return { status: 'cancelled' };
}

/**
 * An attempt failed (threw, or timed out): release the job with its backoff while it has tries
 * left, then call its retrying() hook; otherwise store the failed record and remove the job (one
 * atomic step), then call its failed() hook. Used by the worker and by the watchdog's timeout
 * recorder alike. `inBackground` takes a retrying() hook that must not hold the caller (the
 * worker's slot); without it, the hook is awaited (the recorder's process exits right after).
 */
export async function settleFailedAttempt(
  p: Pick<RunContext, 'driver' | 'defaults'>,
  reservation: Reservation,
  envelope: Envelope,
  error: Error,
  timedOut: boolean,
  job: Job | null,
  log: Logger,
  ms: number,
  inBackground?: (hook: Promise<void>) => void,
): Promise<Outcome> {
  const settings = settingsFor(envelope, p.defaults);
  if (shouldRetry(error, reservation.attempts, settings)) {
    const delay = retryDelaySeconds(reservation.attempts, settings);
    const released = await p.driver.release(reservation, delay * 1000);
    if (!released) return lost(log, ms);
    log.warn({ ms, outcome: 'released', retryIn: delay, err: firstLine(error.message) }, `released after ${firstLine(error.message)}; retry in ${delay}s`);
    if (job && hasHook(job, 'retrying')) {
      const hook = callHook(job, 'retrying', error, log);
      if (inBackground) inBackground(hook);
      else await hook;
    }
    return { status: 'released', delay, error, timedOut };
  }

  const failedAt = { ...envelope, attempts: reservation.attempts };
  const stored = await p.driver.fail(reservation, { id: envelope.id, job: envelope.job, payload: encodeEnvelope(failedAt), error: describeError(error) });
  if (!stored) return lost(log, ms);
  log.error({ ms, outcome: 'failed', err: firstLine(error.message) }, `failed for good after ${reservation.attempts} attempt(s): ${firstLine(error.message)}`);
  if (job) await callHook(job, 'failed', error, log);
  return { status: 'failed', error, timedOut };
}

/**
 * A job that will not run goes straight to failed storage, with the reason (and, for a payload that
 * does not open, its raw bytes). A job whose class could be built has its failed() hook called.
 */
async function rejectUnrunnable(p: RunContext, reservation: Reservation, run: JobRun, envelope: Envelope | null, log: Logger | null, reason: string, job?: Job): Promise<RunResult> {
  const logger = log ?? p.log.child({ queue: reservation.queue, handle: reservation.handle });
  const stored = await p.driver.fail(reservation, {
    id: envelope?.id ?? null,
    job: envelope?.job ?? null,
    payload: envelope ? encodeEnvelope({ ...envelope, attempts: reservation.attempts }) : reservation.payload,
    error: reason,
  });
  if (!stored) return { outcome: lost(logger, 0), run, ms: 0, hung: false };
  logger.error({ outcome: 'failed', err: reason }, `failed without running: ${reason}`);
  if (job) await callHook(job, 'failed', new Error(reason), logger);
  return { outcome: { status: 'failed', error: reason, timedOut: false }, run, ms: 0, hung: false };
}

function lost(log: Logger, ms: number): Outcome {
  log.warn({ ms, outcome: 'lost' }, 'lease was taken over by another worker; leaving the job to it');
  return { status: 'lost' };
}
