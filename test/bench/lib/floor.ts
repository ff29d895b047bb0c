/**
 * The physical floor under our Redis figures (SPEC 17): what the same Redis, over the same kind of
 * ioredis client our driver opens (connect.ts's options), does when every job costs exactly one
 * script call that does nothing. A job of ours needs one script run (push.lua to dispatch, turn.lua
 * to finish one and take the next), so no queue on this client can beat these figures; our ratio to
 * them says how much of our time is spent beyond the round trip.
 *
 * - one at a time: n `EVALSHA` of `return 0`, each awaited before the next (dispatch one at a time;
 *   processing at c=1, where our worker runs one turn per job);
 * - batched: the same n calls sent in pipelines of `batch` (1,000: bulk dispatch; 50: processing at
 *   c=50), each pipeline awaited before the next is sent.
 *
 * The script is loaded once with SCRIPT LOAD, outside the timing. Every reply is checked: a run counts
 * only if each of the n calls came back 0.
 */
import type { Redis } from 'ioredis';
import { redisTarget } from '../../../src/drivers/redis/connect.ts';
import { REDIS_URL } from '../../helpers/backends.ts';
import { BenchFailure, elapsedSince } from './common.ts';

const EMPTY_SCRIPT = 'return 0';

interface Floor {
  client: Redis;
  sha: string;
}

async function withFloor<T>(work: (floor: Floor) => Promise<T>): Promise<T> {
  const client = redisTarget({ driver: 'redis', url: REDIS_URL }).create() as Redis;
  client.on('error', () => {}); // a failed call rejects on its own; the bench reports that
  try {
    const sha = (await client.script('LOAD', EMPTY_SCRIPT)) as string;
    await client.evalsha(sha, 0); // connected and the script cached before any timing starts
    return await work({ client, sha });
  } finally {
    client.disconnect();
  }
}

function expectAll(label: string, n: number, zeros: number): void {
  if (zeros !== n) throw new BenchFailure(`${label}: sent ${n} EVALSHA calls but ${zeros} answered 0`);
}

/** n awaited EVALSHA of the empty script, one after another; returns ms. */
export function bareEvalsha(n: number): Promise<number> {
  return withFloor(async ({ client, sha }) => {
    let zeros = 0;
    const start = performance.now();
    for (let i = 0; i < n; i++) if ((await client.evalsha(sha, 0)) === 0) zeros++;
    const ms = elapsedSince(start);
    expectAll('floor: bare EVALSHA', n, zeros);
    return ms;
  });
}

/** n EVALSHA of the empty script in pipelines of `batch`, each awaited before the next; returns ms. */
export function pipelinedEvalsha(n: number, batch: number): Promise<number> {
  return withFloor(async ({ client, sha }) => {
    let zeros = 0;
    const start = performance.now();
    for (let sent = 0; sent < n; sent += batch) {
      const pipeline = client.pipeline();
      for (let i = sent; i < Math.min(n, sent + batch); i++) pipeline.evalsha(sha, 0);
      for (const [error, reply] of (await pipeline.exec())!) if (!error && reply === 0) zeros++;
    }
    const ms = elapsedSince(start);
    expectAll(`floor: pipelined EVALSHA (${batch} per pipeline)`, n, zeros);
    return ms;
  });
}
