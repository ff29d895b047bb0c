/**
 * A backend the worker cannot use, said once per outage: the first failure is one line with the
 * reason and when the worker tries again, later failures of the same outage only at debug level,
 * and the recovery one line with how long it lasted. A worker rides out an outage (it backs off and
 * carries on); its log must not fill with the same line meanwhile.
 *
 * The pause after the first failure is the worker's `--sleep` (an idle worker no longer sleeps: it
 * waits for a job, see BlockingWait), at least a tenth of a second; it doubles after each failure
 * after that, up to 30 s.
 */
import type { Logger } from 'pino';

const MAX_BACKOFF_MS = 30_000;
const MIN_BACKOFF_MS = 100;

export class Outage {
  private since: number | undefined;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly connection: string,
    /** The pause after the first failure (ms): the worker's `--sleep`. */
    private readonly firstMs: number,
  ) {}

  /** Notes a failed call to the backend; returns how long to wait before the next try (ms). */
  failed(error: unknown): number {
    this.failures += 1;
    const wait = Math.min(Math.max(this.firstMs, MIN_BACKOFF_MS) * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    const message = (error as Error)?.message ?? String(error);
    const next = `retrying in ${wait < 1000 ? (wait / 1000).toFixed(1) : Math.round(wait / 1000)}s`;
    if (this.since === undefined) {
      this.since = Date.now();
      this.log.error({ err: message }, `${message}; ${next}, and every ${MAX_BACKOFF_MS / 1000}s at most until it answers`);
    } else {
      this.log.debug({ err: message }, `still failing: ${message}; ${next}`);
    }
    return wait;
  }

  /** Notes a call that worked; ends the outage, if there was one. */
  ok(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((Date.now() - this.since) / 1000);
    this.log.info(`connection '${this.connection}' is back, after ${seconds}s and ${this.failures} failed tries`);
    this.since = undefined;
    this.failures = 0;
  }
}
