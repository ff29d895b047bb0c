// Recurring jobs: every `queue work` fires them, each occurrence exactly once however many workers
// run (see the README, "Schedules"). `cron` has 5 fields (or 6, seconds first); `every` takes '30s'.
import { defineSchedule } from 'queuework';
// import SendWelcomeEmail from '../app/jobs/SendWelcomeEmail.ts';

export default defineSchedule([
  // { name: 'morning-hello', job: SendWelcomeEmail, data: { userId: 1, email: 'ada@example.com' }, cron: '0 8 * * *', tz: 'Europe/Berlin' },
  // { name: 'heartbeat', job: SendWelcomeEmail, data: { email: 'ops@example.com' }, every: '30s', missed: 'skip' },
]);
