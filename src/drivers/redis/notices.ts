/**
 * Finish notices on Redis (the FinishNotices ability): the scripts that finish jobs (turn.lua for
 * acks that keep a record and for a take that cancels or expires jobs, fail.lua, cancel.lua,
 * cancel_running.lua, expire.lua) PUBLISH the ids, as a JSON array, on the prefix's channel
 * (keys.ts). One subscriber connection, opened by the first listener, serves every listener of a
 * driver. On a Cluster a PUBLISH reaches every node, so the subscriber may sit on any of them
 * (redis-cluster.e2e checks it). ioredis subscribes again after a reconnect; a notice sent
 * meanwhile is lost, and waiters still look now and then. Plain acks publish nothing.
 */
import type { Cluster, Redis } from 'ioredis';

type Listener = (ids: string[]) => void;

export class FinishSubscriber {
  private readonly listeners = new Set<Listener>();
  private subscriber: Promise<Redis | Cluster> | undefined;

  constructor(
    /** Opens the subscriber connection (a duplicate of the driver's client). */
    private readonly open: () => Redis | Cluster,
    private readonly channel: string,
  ) {}

  /** Resolves, once subscribed, to the unsubscribe; rejects (and keeps nothing) if it cannot subscribe. */
  async listen(listener: Listener): Promise<() => void> {
    this.listeners.add(listener);
    try {
      this.subscriber ??= this.subscribe().catch((error) => {
        this.subscriber = undefined;
        throw error;
      });
      await this.subscriber;
    } catch (error) {
      this.listeners.delete(listener);
      throw error;
    }
    return () => void this.listeners.delete(listener);
  }

  private async subscribe(): Promise<Redis | Cluster> {
    const subscriber = this.open();
    subscriber.on('message', (_channel: string, message: string) => {
      let ids: unknown;
      try {
        ids = JSON.parse(message);
      } catch {
        return;
      }
      if (!Array.isArray(ids)) return;
      for (const hear of this.listeners) hear(ids.map(String));
    });
    try {
      await subscriber.subscribe(this.channel);
    } catch (error) {
      subscriber.disconnect();
      throw error;
    }
    return subscriber;
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.listeners.clear();
    await subscriber?.then((s) => s.disconnect()).catch(() => undefined);
  }
}
