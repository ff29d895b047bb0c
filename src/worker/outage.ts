/**
 * A backend the worker cannot use, said once per outage: the first failure is one line with the
 * reason and when the worker tries again, later failures of the same outage only at debug level,
 * and the recovery one line with how long it lasted. A worker rides out an outage (it backs off and
 * carries on); its log must not fill with the same line meanwhile.
 */
import type { Logger } from 'pino';

const MAX_BACKOFF_MS = 30_000;

export class Outage {
  private since: number | undefined;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly connection: string,
  ) {}

  /** Notes a failed call to the backend; returns how long to wait before the next try (ms). */
  failed(error: unknown): number {
    this.failures += 1;
    const wait = Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    const message = (error as Error)?.message ?? String(error);
    const next = `retrying in ${Math.round(wait / 1000)}s`;
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
