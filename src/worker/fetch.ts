/**
 * Where a worker's jobs come from and where its acks go (Sidekiq's "fetch"). A driver that can hold
 * jobs ahead (Redis) gets a HoldingSource, so a busy worker never waits on a round trip between
 * jobs; any other driver is asked for jobs when a slot is free.
 */
import type { Logger } from 'pino';
import { canHold, type Driver, type Reservation } from '../queue/driver.ts';
import { HoldingSource } from './holding.ts';

export interface JobSource {
  /**
   * Up to `count` jobs to start now, from the first of `queues` that has any. `budget` is how many
   * jobs this worker may still start in all (--max-jobs, --once), so nothing is taken it will not run.
   */
  take(queues: string[], count: number, budget: number): Promise<Reservation[]>;
  /** Records a done job that ran for `ms`; false when its lease had been taken over. */
  ack(reservation: Reservation, ms: number): Promise<boolean>;
  /** Gives back whatever is taken and not started (the worker was paused). */
  giveBack(): void;
  /** Gives back whatever is taken and not started, and waits for the acks on their way. */
  close(): Promise<void>;
}

export interface SourceOptions {
  concurrency: number;
  /** Seconds, for jobs whose envelope declares no timeout. */
  defaultTimeout: number;
  /** Seconds added to a job's timeout to make its lease. */
  leaseMargin: number;
}

export function jobSource(driver: Driver, options: SourceOptions, log: Logger): JobSource {
  return canHold(driver) ? new HoldingSource(driver, options, log) : new ReservingSource(driver, options);
}

/** Reserves exactly what the worker asks for, when it asks; acks go one by one (the driver may batch them). */
class ReservingSource implements JobSource {
  constructor(
    private readonly driver: Driver,
    private readonly options: SourceOptions,
  ) {}

  take(queues: string[], count: number): Promise<Reservation[]> {
    return this.driver.reserve(queues, { count, defaultTimeout: this.options.defaultTimeout, leaseMargin: this.options.leaseMargin });
  }

  ack(reservation: Reservation): Promise<boolean> {
    return this.driver.ack(reservation);
  }

  giveBack(): void {}

  async close(): Promise<void> {}
}
