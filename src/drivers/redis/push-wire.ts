/**
 * The wire format of the push, both ways: how jobs become KEYS and ARGV, and how the script's reply
 * becomes one Pushed per job. Jobs without a unique key go to push.lua, the fast path; a push with
 * any unique job to push_placed.lua. Their headers document the same layouts from the other side.
 */
import type { Pushed, StoredJob } from '../../contract/driver.ts';
import type { QueueKeys } from './keys.ts';
import { packPayload } from './packed.ts';
import type { Reply } from './scripts.ts';
import { FOREVER_MS } from './turn-wire.ts';

export interface EncodedPush {
  script: 'push' | 'push_placed';
  keys: string[];
  args: string[];
}

/**
 * KEYS: each queue's `ready` key (the script names the queue's other keys from it), in the order
 * the queues first appear, then `namesKey` (the set of queue names, when it is in reach: not on a
 * Cluster). ARGV: the queue names, then one value per job, in the caller's order. `placed` sends
 * even jobs without a unique key to push_placed.lua (schedule.lua runs its code).
 */
export function encodePush(jobs: readonly StoredJob[], keysOf: (queue: string) => QueueKeys, namesKey?: string, placed = false): EncodedPush {
  const plain = !placed && jobs.every((job) => job.unique === undefined);
  const queues = new Map<string, number>();
  const jobArgs: string[] = [];
  for (const job of jobs) {
    let index = queues.get(job.queue);
    if (index === undefined) queues.set(job.queue, (index = queues.size + 1));
    jobArgs.push(plain ? plainJobArg(index, job) : jobArg(index, job, optionsOf(job)));
  }
  const keys = [...queues.keys()].map((queue) => keysOf(queue).ready);
  if (namesKey) keys.push(namesKey);
  return { script: plain ? 'push' : 'push_placed', keys, args: [...queues.keys(), ...jobArgs] };
}

/** push.lua's job: "<queue index>,<delay ms>,<timeout ms or nothing>,<priority or nothing>,<expireInMs or nothing>,<length of id>:<id><payload>". */
function plainJobArg(queueIndex: number, job: StoredJob): string {
  return `${queueIndex},${Math.max(0, Math.round(job.delayMs))},${job.timeoutMs ?? ''},${rankOf(job)},${expiryOf(job)},${Buffer.byteLength(job.id)}:${job.id}${stored(job)}`;
}

/** push_placed.lua's job: "<queue index>,<delay ms>,<timeout ms or nothing>,<length of options>,<length of id>:<id><options><payload>" (options: optionsOf). */
function jobArg(queueIndex: number, job: StoredJob, options: string): string {
  return `${queueIndex},${Math.max(0, Math.round(job.delayMs))},${job.timeoutMs ?? ''},${Buffer.byteLength(options)},${Buffer.byteLength(job.id)}:${job.id}${options}${stored(job)}`;
}

/** The job's payload as the `jobs` hash keeps it (packed.ts). */
function stored(job: StoredJob): string {
  return packPayload(job.id, job.queue, job.payload ?? '');
}

/**
 * A job's priority, expiry and unique hold, as push_placed.lua's header lays them out; nothing for
 * a plain job (the common case costs nothing at either end). Positional text, not JSON: encoding a
 * bulk of 1,000 unique jobs took 0.7 ms with JSON.stringify, 0.25 ms as text. Durations are
 * rounded and clamped as keeps are (turn-wire.ts). A value of the wrong type goes as text the
 * script refuses with the message that names it, as it refused its JSON: a number as its text
 * ('2.5', 'NaN'), anything else as '?', and a `unique` that is not an object as hold '!'.
 */
function optionsOf({ priority, expireInMs, unique }: StoredJob): string {
  if ((priority === undefined || priority === 0) && expireInMs === undefined && unique === undefined) return '';
  const rank = rankOf({ priority });
  const expiry = expiryOf({ expireInMs });
  if (unique === undefined) return `${rank},${expiry},`;
  if (!unique) return `${rank},${expiry},!,,,`;
  const hold = unique.until === 'start' ? 's' : unique.until === 'done' ? 'd' : '?';
  const forMs = unique.forMs === undefined ? '' : wholeMs(unique.forMs);
  const replace = unique.replace === true ? '1' : unique.replace === undefined || unique.replace === false ? '' : '?';
  return `${rank},${expiry},${hold},${forMs},${replace},${typeof unique.key === 'string' ? unique.key : ''}`;
}

/** A priority as the scripts read it: nothing for none, a number's text, '?' for a value of another type. */
function rankOf({ priority }: Pick<StoredJob, 'priority'>): string | number {
  return priority === undefined || priority === 0 ? '' : typeof priority === 'number' ? priority : '?';
}

/** An expiry as the scripts read it: nothing for none, else whole ms. */
function expiryOf({ expireInMs }: Pick<StoredJob, 'expireInMs'>): string | number {
  return expireInMs === undefined ? '' : wholeMs(expireInMs);
}

function wholeMs(ms: number): number {
  return Math.min(Math.max(0, Math.round(ms)), FOREVER_MS);
}

/** The reply: 3 values per job not simply stored (its number, 'duplicate' or 'replaced', the other job's id); none from push.lua. */
export function decodePush(reply: Reply[], jobs: readonly StoredJob[]): Pushed[] {
  const pushed: Pushed[] = jobs.map((job) => ({ id: job.id, duplicate: false }));
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const n = Number(reply[i]) - 1;
    const other = String(reply[i + 2]);
    pushed[n] = reply[i + 1] === 'duplicate' ? { id: other, duplicate: true } : { id: jobs[n]!.id, duplicate: false, replaced: other };
  }
  return pushed;
}
