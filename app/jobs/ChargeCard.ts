import { Job, UnrecoverableError, type JobContext } from 'queuework';

/**
 * Fails and retries with backoff: the payment provider is "down" until `succeedOnAttempt`, then
 * the charge goes through. An amount of zero or less can never succeed, so it fails at once.
 */
export default class ChargeCard extends Job {
  static maxTries = 4;
  static backoff = [1, 2, 4];

  orderId = '';
  amountCents = 0n;
  succeedOnAttempt = 3;

  async handle(ctx: JobContext): Promise<void> {
    if (this.amountCents <= 0n) throw new UnrecoverableError(`order ${this.orderId}: amount must be positive`);
    if (ctx.attempt < this.succeedOnAttempt) throw new Error(`payment provider unavailable (attempt ${ctx.attempt})`);
    ctx.log.info({ orderId: this.orderId, amountCents: this.amountCents.toString() }, 'card charged');
  }

  async failed(error: Error): Promise<void> {
    // A real app would notify the customer here.
    console.error(`ChargeCard ${this.orderId} gave up: ${error.message}`);
  }
}
