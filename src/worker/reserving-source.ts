/** A job source that reserves exactly what the worker asks for, when it asks; acks go one by one (the driver may batch them). */
import type { Acknowledgement, Driver, Reservation } from '../contract/driver.ts';
import type { JobSource, SourceOptions } from './job-source.ts';

export class ReservingSource implements JobSource {
  constructor(
    private readonly driver: Driver,
    private readonly options: SourceOptions,
  ) {}

  take(queues: string[], count: number): Promise<Reservation[]> {
    return this.driver.reserve(queues, { count, defaultTimeoutMs: this.options.defaultTimeoutMs, leaseMarginMs: this.options.leaseMarginMs, keeping: this.options.keeping });
  }

  ack({ reservation, completion }: Acknowledgement): Promise<boolean> {
    return this.driver.ack(reservation, completion);
  }

  giveBack(): void {}

  async close(): Promise<void> {}
}
