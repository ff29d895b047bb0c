/**
 * A named connection, one type for all: one that stores jobs (a driver: Redis or SQL), or one that
 * runs them inline at dispatch (`sync`). dispatch() hands either its packed jobs; workers and
 * commands ask for the driver, which only a storing connection has.
 */
import { QueueError } from '../errors.ts';
import type { Envelope } from '../jobs/envelope.ts';
import { canPushInTransaction, type Driver, type Pushed, type StoredJob } from '../contract/driver.ts';
import type { InlineRunner } from '../running/inline.ts';

/** A job as dispatch() packed it: the envelope, and what storing it takes. */
export interface PackedJob {
  envelope: Envelope;
  stored: StoredJob;
}

export interface Connection {
  readonly name: string;
  /** Stores the jobs in one round trip, or (inline) runs them one after another; says what became of each. */
  dispatch(jobs: PackedJob[]): Promise<Pushed[]>;
  /** Stores the jobs inside the application's transaction on the same SQL database. */
  dispatchIn(transaction: unknown, jobs: PackedJob[]): Promise<Pushed[]>;
  /** The storage behind the connection; an inline one has none and says so. */
  driver(): Driver;
  close(): Promise<void>;
}

export function storingConnection(driver: Driver): Connection {
  return {
    name: driver.connection,
    dispatch: (jobs) => driver.push(jobs.map((job) => job.stored)),
    async dispatchIn(transaction, jobs) {
      if (!canPushInTransaction(driver)) throw notInTransaction(driver.connection, 'stores jobs outside SQL');
      return driver.pushIn(transaction, jobs.map((job) => job.stored));
    },
    driver: () => driver,
    close: () => driver.close(),
  };
}

export function inlineConnection(runner: InlineRunner): Connection {
  return {
    name: runner.connection,
    /** Every job runs: inline, nothing is stored to hold a unique key or wait in a priority order. */
    async dispatch(jobs) {
      for (const job of jobs) await runner.run(job.envelope);
      return jobs.map((job) => ({ id: job.envelope.id, duplicate: false }));
    },
    async dispatchIn() {
      throw notInTransaction(runner.connection, 'runs jobs inline at dispatch');
    },
    driver() {
      throw new QueueError('INVALID_ARGUMENT', `connection '${runner.connection}' runs jobs inline at dispatch and has no stored jobs; name a database or redis connection`);
    },
    close: async () => {},
  };
}

function notInTransaction(connection: string, why: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', `connection '${connection}' ${why}, so it cannot store a job inside an SQL transaction; dispatch with { afterCommit: trx } in Queue.transaction() instead`);
}
