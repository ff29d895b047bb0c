import { setTimeout as sleep } from 'node:timers/promises';
import { Job, type JobContext } from 'queuework';

/** Slow, and honours its AbortSignal: it stops between steps when its timeout (or a stop) comes. */
export default class GenerateReport extends Job {
  static timeout = 10;
  static maxTries = 1;

  reportId = '';
  steps = 5;
  stepMs = 500;

  async handle(ctx: JobContext): Promise<void> {
    for (let step = 1; step <= this.steps; step += 1) {
      await sleep(this.stepMs, undefined, { signal: ctx.signal });
      ctx.log.debug({ step }, 'report step done');
    }
    ctx.log.info({ reportId: this.reportId, steps: this.steps }, 'report generated');
  }
}
