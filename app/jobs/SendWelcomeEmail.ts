import { Job, type JobContext } from 'queuework';

/** Succeeds: "sends" a welcome email by logging it. */
export default class SendWelcomeEmail extends Job {
  // On the 'default' queue, which `queue work` takes when no --queue is given. A queue of its own
  // (static queue = 'emails') needs workers that name it: queue work --queue emails,default
  static maxTries = 3;
  static timeout = 30;

  userId = 0;
  email = '';
  signedUpAt = new Date();

  async handle(ctx: JobContext): Promise<void> {
    if (!this.email.includes('@')) throw new Error(`not an email address: '${this.email}'`);
    ctx.log.info({ userId: this.userId, to: this.email, signedUpAt: this.signedUpAt.toISOString() }, 'welcome email sent');
  }
}
