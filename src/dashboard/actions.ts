/**
 * What the dashboard can change, each a POST to /api/<name> with a JSON body (the server checks
 * the CSRF token, the origin and --read-only before any of these runs): failed jobs retried or
 * forgotten (some by id, or all, of one queue or every one), waiting or running jobs cancelled,
 * queues paused and resumed. Each says what it did in a line the page shows.
 */
import { isQueueError, QueueError } from '../errors.ts';
import { cancelJob } from '../queue/records.ts';
import type { DashboardContext } from './context.ts';

export interface ActionBody {
  /** Job ids (at most MAX_IDS). */
  ids?: unknown;
  /** Every failed job instead of `ids` (of `queue`, when given). */
  all?: unknown;
  queue?: unknown;
}

export interface ActionResult {
  message: string;
  /** The jobs it changed. */
  ids?: string[];
}

type Action = (context: DashboardContext, body: ActionBody) => Promise<ActionResult>;

/** The most ids one request names: a page of the list. */
const MAX_IDS = 1_000;

export const ACTIONS: Readonly<Record<string, Action>> = {
  'failed/retry': retry,
  'failed/forget': forget,
  'jobs/cancel': cancel,
  'queues/pause': (context, body) => pause(context, body, true),
  'queues/resume': (context, body) => pause(context, body, false),
};

async function retry({ driver }: DashboardContext, body: ActionBody): Promise<ActionResult> {
  const moved = body.all === true ? await driver.failed.retryAll({ queue: optionalQueue(body) }) : await driver.failed.retry(idsOf(body));
  return { ids: moved, message: `${moved.length} failed job${moved.length === 1 ? '' : 's'} put back on ${moved.length === 1 ? 'its queue' : 'their queues'}` };
}

async function forget(context: DashboardContext, body: ActionBody): Promise<ActionResult> {
  const queue = optionalQueue(body);
  if (body.all === true && queue === undefined) {
    const count = await context.driver.failed.flush();
    return { message: `${count} failed job record${count === 1 ? '' : 's'} deleted` };
  }
  const ids = body.all === true ? await failedIds(context, queue!) : idsOf(body);
  const forgotten: string[] = [];
  for (const id of ids) if (await context.driver.failed.forget(id)) forgotten.push(id);
  return { ids: forgotten, message: `${forgotten.length} failed job record${forgotten.length === 1 ? '' : 's'} deleted` };
}

/** Every failed record of one queue, gathered before any is deleted (a cursor may not survive deletes). */
async function failedIds({ driver }: DashboardContext, queue: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await driver.records.list({ state: 'failed', queue, limit: MAX_IDS, cursor });
    ids.push(...page.records.map((record) => record.id));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return ids;
}

async function cancel({ manager, connection }: DashboardContext, body: ActionBody): Promise<ActionResult> {
  const cancelled: string[] = [];
  const refused: string[] = [];
  let requested = 0;
  for (const id of idsOf(body)) {
    try {
      if ((await cancelJob(manager, id, connection)) === 'requested') requested += 1;
      cancelled.push(id);
    } catch (error) {
      if (!isQueueError(error, 'JOB_FINISHED') && !isQueueError(error, 'JOB_NOT_FOUND')) throw error;
      refused.push((error as Error).message);
    }
  }
  const parts = [`${cancelled.length - requested} cancelled`, ...(requested > 0 ? [`${requested} running, asked to stop`] : []), ...refused];
  return { ids: cancelled, message: parts.join('; ') };
}

async function pause({ driver }: DashboardContext, body: ActionBody, paused: boolean): Promise<ActionResult> {
  const queue = optionalQueue(body);
  if (queue === undefined) throw new QueueError('INVALID_ARGUMENT', 'name the queue: { "queue": "emails" }');
  await (paused ? driver.pause(queue) : driver.resume(queue));
  return { message: paused ? `paused queue ${queue}: workers skip it until it is resumed` : `resumed queue ${queue}` };
}

function idsOf(body: ActionBody): string[] {
  const { ids } = body;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS || !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200)) {
    throw new QueueError('INVALID_ARGUMENT', `name the jobs: { "ids": [...] }, 1 to ${MAX_IDS} ids, or { "all": true }`);
  }
  return ids as string[];
}

function optionalQueue(body: ActionBody): string | undefined {
  if (body.queue === undefined || body.queue === null || body.queue === '') return undefined;
  if (typeof body.queue !== 'string' || body.queue.length > 255) throw new QueueError('INVALID_ARGUMENT', 'a queue is a name of at most 255 characters');
  return body.queue;
}
