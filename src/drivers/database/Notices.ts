/**
 * What PostgreSQL tells one driver (LISTEN/NOTIFY), over one connection of its own, not one of the
 * pool's: it would sit idle in LISTEN forever. Its channels (channels.ts) carry finished jobs, which
 * Queue.wait hears (FinishNotices), and queues that may have a job ready, which idle workers hear
 * (BlockingWait); one connection per driver serves both, opened on the first subscription.
 *
 * A connection that drops is let go; the next subscription opens another. Notices sent meanwhile
 * are lost, so every listener also looks by itself now and then.
 */
import type { SqlDialect } from './dialects/dialect.ts';

type Listen = NonNullable<SqlDialect['listen']>;
type Hear = (payload: string) => void;

export class Notices {
  private readonly hearers = new Map<string, Set<Hear>>();
  private listening: Promise<{ close(): Promise<void> }> | undefined;

  /** `translate` turns a failure to listen into the driver's error (an outage that names the server). */
  constructor(
    private readonly listen: Listen,
    private readonly channels: string[],
    private readonly translate: (what: string, error: unknown) => unknown,
  ) {}

  /**
   * Calls `hear` with each payload told on `channel` from now on; resolves, once the connection
   * listens, to the unsubscribe. `what` names the subscriber in an error ("listen for finished jobs").
   */
  async subscribe(channel: string, what: string, hear: Hear): Promise<() => void> {
    const hearers = this.hearers.get(channel) ?? this.hearers.set(channel, new Set()).get(channel)!;
    hearers.add(hear);
    try {
      await this.open(what);
    } catch (error) {
      hearers.delete(hear);
      throw error;
    }
    return () => void hearers.delete(hear);
  }

  private open(what: string): Promise<unknown> {
    this.listening ??= this.listen(this.channels, (channel, payload) => {
      for (const hear of this.hearers.get(channel) ?? []) hear(payload);
    }, () => {
      const lost = this.listening;
      this.listening = undefined;
      void lost?.then((l) => l.close()).catch(() => undefined);
    }).catch((error) => {
      this.listening = undefined;
      throw this.translate(what, error);
    });
    return this.listening;
  }

  async close(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    await listening?.then((l) => l.close()).catch(() => undefined);
  }
}
