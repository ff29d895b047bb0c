/**
 * A named connection, one type for all: one that stores jobs (a driver: Redis or SQL), or one that
 * runs them inline at dispatch (`sync`). dispatch() hands either its packed jobs; workers and
 * commands ask for the driver, which only a storing connection has.
 */
import { QueueError } from '../errors.ts';
import type { Envelope } from '../jobs/envelope.ts';
import type { Driver, StoredJob } from '../contract/driver.ts';
import type { InlineRunner } from '../running/inline.ts';

/** A job as dispatch() packed it: the envelope, and what storing it takes. */
export interface PackedJob {
  envelope: Envelope;
  stored: StoredJob;
}

export interface Connection {
  readonly name: string;
  /** Stores the jobs in one round trip, or (inline) runs them one after another. */
  dispatch(jobs: PackedJob[]): Promise<void>;
  /** The storage behind the connection; an inline one has none and says so. */
  driver(): Driver;
  close(): Promise<void>;
}

export function storingConnection(driver: Driver): Connection {
  return {
    name: driver.connection,
    dispatch: (jobs) => driver.push(jobs.map((job) => job.stored)),
    driver: () => driver,
    close: () => driver.close(),
  };
}

export function inlineConnection(runner: InlineRunner): Connection {
  return {
    name: runner.connection,
    async dispatch(jobs) {
      for (const job of jobs) await runner.run(job.envelope);
    },
    driver() {
      throw new QueueError('INVALID_ARGUMENT', `connection '${runner.connection}' runs jobs inline at dispatch and has no stored jobs; name a database or redis connection`);
    },
    close: async () => {},
  };
}
