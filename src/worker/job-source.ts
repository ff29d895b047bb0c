/**
 * Where a worker's jobs come from and where its acks go (Sidekiq's "fetch"). A driver that can hold
 * jobs ahead is read through a HoldingSource (Redis at any concurrency, SQL at concurrency 1, and
 * every backend with --prefetch), so a busy worker never waits on a round trip between jobs; else
 * through a ReservingSource, asked for jobs when a slot is free.
 */
import type { Acknowledgement, Keeping, Reservation } from '../contract/driver.ts';

export interface JobSource {
  /**
   * Up to `count` jobs to start now, from the first of `queues` that has any. `budget` is how many
   * jobs this worker may still start in all (--max-jobs, --once), so nothing is taken it will not run.
   */
  take(queues: string[], count: number, budget: number): Promise<Reservation[]>;
  /** Records a done job (and its completion, if it keeps a record) that ran for `ms`; false when its lease had been taken over. */
  ack(done: Acknowledgement, ms: number): Promise<boolean>;
  /** Gives back whatever is taken and not started (the worker was paused). */
  giveBack(): void;
  /** Gives back whatever is taken and not started, and waits for the acks on their way. */
  close(): Promise<void>;
}

export interface SourceOptions {
  concurrency: number;
  /** Timeout of jobs whose envelope declares none, ms. */
  defaultTimeoutMs: number;
  /** Added to a job's timeout to make its lease, ms. */
  leaseMarginMs: number;
  /** How the record of a job the claim finds expired is kept. */
  keeping: Keeping;
  /** At most this many jobs started ahead of running them, one round trip for many (0: none; holding sources only). */
  prefetch: number;
}
