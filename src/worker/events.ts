/**
 * What a worker tells its listeners about each job (Laravel's worker events): the CLI, metrics and
 * an application's own telemetry all listen here, and the loop never formats anything itself. A
 * job's class hears its own completed, retrying and failed moments through its hooks (Job.ts).
 */
import type { JobRun } from '../running/run-reservation.ts';

export type { JobRun } from '../running/run-reservation.ts';

export interface WorkerEvents {
  /** The worker reached its backend (the first time): from now on it takes jobs. */
  ready: [];
  /** A job is about to run (its payload opened, its tries checked). */
  started: [run: JobRun];
  /** A job ran to its end and its acknowledgement landed. */
  completed: [run: JobRun & { ms: number }];
  /** A job failed and was released to run again after `delay` seconds. */
  retrying: [run: JobRun & { ms: number; error: Error; delay: number }];
  /** A job failed for good (it threw on its last try, timed out, or could not run at all) and is on record. */
  failed: [run: JobRun & { ms: number; error: Error }];
  /** A job whose cancel was asked for ended (or never started), and is on record as cancelled. */
  cancelled: [run: JobRun & { ms: number }];
  /** The job's lease was taken over before its outcome could be recorded; its new holder decides. */
  lost: [run: JobRun & { ms: number }];
}
