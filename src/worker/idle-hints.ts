/**
 * What a worker says about queues while it finds nothing to do: the usual reason a new worker
 * "does nothing" is a job class whose `static queue` it was not told about, and the usual reason a
 * drained queue "lost" jobs is that they still wait for their time.
 */
import type { Logger } from 'pino';
import type { Driver, QueueStats } from '../contract/driver.ts';

/**
 * Why --stop-when-empty stops: nothing is ready, and how many jobs of its queues still wait for
 * their time (a delay, or a retry's backoff), which a person would otherwise think were lost.
 */
export async function emptyMessage(driver: Driver, queues: string[]): Promise<string> {
  let message = 'the queue is empty';
  try {
    const stats = await driver.stats();
    const mine = new Set(queues);
    const waiting = stats.filter((queue) => mine.has(queue.queue)).reduce((sum, queue) => sum + queue.delayed, 0);
    if (waiting > 0) message += `; ${waiting} job(s) still wait for their time (a delay, or a retry's backoff)`;
    const elsewhere = readyElsewhere(stats, queues);
    if (elsewhere) message += `; ${elsewhere}`;
  } catch {
    // The stop line goes without the counts.
  }
  return message;
}

/** "queue emails has 3 ready job(s) ...; take it with --queue default,emails", or undefined. */
export function readyElsewhere(stats: QueueStats[], queues: string[]): string | undefined {
  const mine = new Set(queues);
  const others = stats.filter((queue) => !mine.has(queue.queue) && queue.ready > 0);
  if (others.length === 0) return undefined;
  const list = others.map((queue) => `${queue.queue} (${queue.ready} ready)`).join(', ');
  const all = [...queues, ...others.map((queue) => queue.queue)].join(',');
  return `${others.length === 1 ? 'queue' : 'queues'} ${list} ${others.length === 1 ? 'has' : 'have'} jobs this worker does not take; add ${others.length === 1 ? 'it' : 'them'}: --queue ${all}`;
}

/** How often an idle worker looks for ready jobs on queues it does not take, until it found some once. */
const OTHER_QUEUES_CHECK_MS = 60_000;

/**
 * Jobs ready on queues this worker does not take, said once while it idles: looked for at most
 * once a minute, and never again once said.
 */
export class OtherQueuesHint {
  private said = false;
  private checkedAt = 0;

  constructor(
    private readonly driver: Driver,
    private readonly queues: string[],
    private readonly log: Logger,
  ) {}

  async check(): Promise<void> {
    if (this.said || Date.now() - this.checkedAt < OTHER_QUEUES_CHECK_MS) return;
    this.checkedAt = Date.now();
    try {
      const elsewhere = readyElsewhere(await this.driver.stats(), this.queues);
      if (elsewhere) {
        this.said = true;
        this.log.warn(`this worker's queues are empty, but ${elsewhere}`);
      }
    } catch {
      // Only a hint: the next idle turn after the interval tries again.
    }
  }
}
