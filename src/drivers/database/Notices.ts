/**
 * What PostgreSQL tells one driver (LISTEN/NOTIFY), over one connection of its own, not one of the
 * pool's: it would sit idle in LISTEN forever. Its channels (channels.ts) carry finished jobs, which
 * Queue.wait hears (FinishNotices), and queues that may have a job ready, which idle workers hear
 * (BlockingWait); one connection per driver serves both, opened on the first subscription.
 *
 * A channel is listened on from its first subscription on, not before: a worker that never waits
 * for a job hears nothing of the jobs that finish (a notice per job, from every worker), where it
 * used to hear all of them once it had been idle. It keeps listening while the connection lasts
 * (wait() subscribes anew for every job it waits for; a LISTEN each time would cost a round trip).
 *
 * A connection that drops is let go; the next subscription opens another, listening again on every
 * channel that still has subscribers. Notices sent meanwhile are lost, so every listener also looks
 * by itself now and then.
 */
import type { Listening, SqlDialect } from './dialects/dialect.ts';

type Listen = NonNullable<SqlDialect['listen']>;
type Hear = (payload: string) => void;

export class Notices {
  private readonly hearers = new Map<string, Set<Hear>>();
  private connection: Promise<Listening> | undefined;
  /** The channels the connection listens on, each settled once the server does (or failed to). */
  private readonly listened = new Map<string, Promise<void>>();

  /** `translate` turns a failure to listen into the driver's error (an outage that names the server). */
  constructor(
    private readonly listen: Listen,
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
      // A new connection listens again on every channel that has subscribers, this one with them.
      for (const [other, its] of this.hearers) if (other !== channel && its.size > 0) this.listenOn(other, what).catch(() => undefined);
      await this.listenOn(channel, what);
    } catch (error) {
      hearers.delete(hear);
      throw error;
    }
    return () => void hearers.delete(hear);
  }

  /** The LISTEN of `channel`, on the connection (opened first if there is none); once per connection. */
  private listenOn(channel: string, what: string): Promise<void> {
    let listening = this.listened.get(channel);
    if (listening) return listening;
    const connection = this.open();
    listening = connection.then((c) => c.add(channel)).catch((error: unknown) => {
      if (this.listened.get(channel) === listening) this.listened.delete(channel);
      throw this.translate(what, error);
    });
    this.listened.set(channel, listening);
    return listening;
  }

  private open(): Promise<Listening> {
    if (this.connection) return this.connection;
    const opening: Promise<Listening> = this.listen(
      (channel, payload) => {
        for (const hear of this.hearers.get(channel) ?? []) hear(payload);
      },
      () => void this.drop(opening),
    );
    // One that failed to open is let go at once: the next subscription tries again.
    opening.catch(() => this.connection === opening && this.forget());
    this.connection = opening;
    return opening;
  }

  /** Lets go of `connection` (lost, or closing); the next subscription opens another. */
  private async drop(connection: Promise<Listening> | undefined): Promise<void> {
    if (connection === undefined) return;
    if (this.connection === connection) this.forget();
    await connection.then((l) => l.close()).catch(() => undefined);
  }

  private forget(): void {
    this.connection = undefined;
    this.listened.clear();
  }

  close(): Promise<void> {
    return this.drop(this.connection);
  }
}
