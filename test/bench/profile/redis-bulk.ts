/**
 * Bulk dispatch on Redis, ours alone: the bench's own redis.bulk measure (20,000 jobs in bulks of
 * 1,000 under a fresh prefix, the queue's size checked after) `runs` times after a warm-up; prints
 * the median and every run in jobs/s. Run it in two checkouts in turn to see what a change to the
 * push costs:
 *
 *   node --import tsx test/bench/profile/redis-bulk.ts [runs=7]
 */
import { median } from '../lib/common.ts';
import { BULK_CHUNK } from '../lib/ours.ts';
import { ourRedis } from '../lib/redis.ts';

const JOBS = 20_000;
const runs = Number(process.argv[2] ?? 7);
if (!Number.isInteger(runs) || runs < 1) throw new Error('usage: redis-bulk.ts [runs, a whole number >= 1]');
await ourRedis.dispatchBulk(2_000, BULK_CHUNK);
const rates: number[] = [];
for (let r = 0; r < runs; r++) rates.push(Math.round(JOBS / ((await ourRedis.dispatchBulk(JOBS, BULK_CHUNK)) / 1000)));
console.log(`median ${Math.round(median(rates))} jobs/s; runs ${rates.join(' ')}`);
