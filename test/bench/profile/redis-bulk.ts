/**
 * Bulk dispatch on Redis, ours alone: `runs` pushes of 20,000 jobs in bulks of 1,000 (as the bench's
 * redis.bulk row pushes them) after a warm-up, the queue cleared after each; prints the median and
 * every run in jobs/s. Run it in two checkouts in turn to see what a change to the push costs:
 *
 *   node --import tsx test/bench/profile/redis-bulk.ts [runs=7]
 */
import { randomUUID } from 'node:crypto';
import { REDIS_URL } from '../../helpers/backends.ts';
import { QUEUE } from '../lib/common.ts';
import { openOurs, pushOurs } from '../lib/ours.ts';

const runs = Number(process.argv[2] ?? 7);
if (!Number.isInteger(runs) || runs < 1) throw new Error('usage: redis-bulk.ts [runs, a whole number >= 1]');
const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix: `bulk-${randomUUID().slice(0, 8)}` });
try {
  await pushOurs(ours, 2_000);
  await ours.driver.clear(QUEUE);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    await pushOurs(ours, 20_000);
    rates.push(Math.round(20_000 / ((performance.now() - started) / 1000)));
    await ours.driver.clear(QUEUE);
  }
  const sorted = [...rates].sort((a, b) => a - b);
  console.log(`median ${sorted[Math.floor(runs / 2)]} jobs/s; runs ${rates.join(' ')}`);
} finally {
  await ours.close();
}
