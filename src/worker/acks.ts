/**
 * Acknowledgements on their way to the backend. A finished job's ack waits here for the worker's
 * next reserve and travels with it: with a driver that can (Redis), the ack of the job just done
 * and the request for the next one are one round trip, so a worker at concurrency 1 pays one
 * round trip per job instead of two. Acks that no reserve picks up within the same turn of the
 * event loop (the worker is idle, or all its slots are busy) go on their own, together.
 *
 * A driver without the ability acknowledges job by job (the database driver batches those itself).
 */
import { setImmediate as nextTurn } from 'node:timers';
import { canAckAndReserve, type Driver, type Reservation, type ReserveOptions } from '../queue/driver.ts';

interface PendingAck {
  reservation: Reservation;
  resolve: (acked: boolean) => void;
  reject: (error: unknown) => void;
}

const ACK_ONLY: ReserveOptions = { count: 0, defaultTimeout: 0, leaseMargin: 0 };

export class AckPipeline {
  private pending: PendingAck[] = [];
  private flushScheduled = false;

  constructor(private readonly driver: Driver) {}

  /** Resolves true once the job is acknowledged, false if its lease was taken over meanwhile. */
  ack(reservation: Reservation): Promise<boolean> {
    if (!canAckAndReserve(this.driver)) return this.driver.ack(reservation);
    return new Promise((resolve, reject) => {
      this.pending.push({ reservation, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        nextTurn(() => this.flush());
      }
    });
  }

  /** Reserves the next jobs, carrying every ack still waiting. */
  async reserve(queues: string[], options: ReserveOptions): Promise<Reservation[]> {
    if (!canAckAndReserve(this.driver)) return this.driver.reserve(queues, options);
    const carried = this.take();
    try {
      const { acked, reserved } = await this.driver.ackAndReserve(carried.map((p) => p.reservation), queues, options);
      carried.forEach((p, i) => p.resolve(acked[i] === true));
      return reserved;
    } catch (error) {
      for (const p of carried) p.reject(error);
      throw error;
    }
  }

  private take(): PendingAck[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  private flush(): void {
    this.flushScheduled = false;
    // A failure reaches each ack's own promise; nothing is left to report here.
    if (this.pending.length > 0) this.reserve([], ACK_ONLY).catch(() => {});
  }
}
