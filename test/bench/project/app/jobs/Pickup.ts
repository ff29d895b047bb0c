import { appendFileSync } from 'node:fs';
import { Job, type JobContext } from 'queuework';

/**
 * The pick-up bench's job: writes "<id> <when it started>" to BENCH_PICKUP_FILE at once (not in
 * batches, as Noop does), the time in ms since the epoch to a fraction of a millisecond, so the
 * harness in another process can take it from the moment it dispatched.
 */
export default class Pickup extends Job {
  static queue = 'bench';

  handle(ctx: JobContext): void {
    appendFileSync(process.env.BENCH_PICKUP_FILE!, `${ctx.id} ${performance.timeOrigin + performance.now()}\n`);
  }
}
