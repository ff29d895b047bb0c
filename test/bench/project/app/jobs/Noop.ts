import { Job, type JobContext } from 'queuework';
import { jobRan } from '../../sink.ts';

/** The benchmark's job: does nothing but report that it ran (its id and the dispatch time it carries). */
export default class Noop extends Job {
  static queue = 'bench';

  /** A sequence number: with `t`, the whole (small) payload. */
  i = 0;
  /** performance.now() just before the dispatch, for pick-up latency (same process only). */
  t = 0;

  handle(ctx: JobContext): void {
    jobRan(ctx.id, this.t);
  }
}
