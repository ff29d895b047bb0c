/**
 * The NOTIFY channels of one jobs table (PostgreSQL), named after it, so connections on other tables
 * (several applications in one database, each with its table prefix) hear nothing of these:
 *
 *   <jobs>_done    a job finished (completed, failed, cancelled, expired); payload: its id, as a JSON
 *                  array (DatabaseRecords.notify, sql/finish.ts)
 *   <jobs>_ready   a job may be ready now on a queue (a push, a retry of a failed job, a release with
 *                  no delay); payload: the queue's name (sql/insertJobs.ts, JobWaiter)
 *
 * A channel is an identifier: PostgreSQL cuts it at 63 bytes, so a longer name becomes a hash.
 */
import { createHash } from 'node:crypto';

export type Topic = 'done' | 'ready';

export function channelOf(jobsTable: string, topic: Topic): string {
  const name = `${jobsTable}_${topic}`;
  return name.length <= 63 ? name : `queue_${topic}_${createHash('sha1').update(jobsTable).digest('hex').slice(0, 16)}`;
}
