/**
 * One in-process worker drains preloaded jobs, ours alone, on fresh tables (SQL) or a fresh prefix
 * (Redis), as the bench's processing rows do; prints each round's jobs/s and this process's CPU time
 * (push and setup included). For before-and-after readings of the worker's own path, e.g. --prefetch:
 *
 *   node --import tsx test/bench/profile/drain.ts postgres|mariadb|sqlite|redis JOBS CONCURRENCY [ROUNDS] [--prefetch N] [--keep none]
 *
 * A first, smaller round warms up (compiles the library) and is not counted.
 */
import { RETENTION } from '../lib/common.ts';
import { drainOurs, pushOurs } from '../lib/ours.ts';
import { withOurs } from '../lib/redis.ts';
import { SQL_BACKENDS, sqlInProcess, type SqlBackend } from '../lib/sql.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args.splice(at, 2)[1];
};
const prefetch = Number(flag('--prefetch') ?? 0);
if (flag('--keep') === 'none') RETENTION.keep = 'none';
const [backend, jobsArg, concurrencyArg, roundsArg = '3'] = args;
const [jobs, concurrency, rounds] = [Number(jobsArg), Number(concurrencyArg), Number(roundsArg)];
if (!(backend === 'redis' || SQL_BACKENDS.includes(backend as SqlBackend)) || !(jobs >= 1) || !(concurrency >= 1) || !(rounds >= 1) || !(prefetch >= 0)) {
  throw new Error('usage: drain.ts postgres|mariadb|sqlite|redis JOBS CONCURRENCY [ROUNDS] [--prefetch N] [--keep none]');
}

const redisDrain = (n: number) => withOurs(async (ours) => drainOurs(ours, 'drain', await pushOurs(ours, n), concurrency, { prefetch }));

const drain = (n: number) => (backend === 'redis' ? redisDrain(n) : sqlInProcess(backend as SqlBackend, n, concurrency, { prefetch }));
await drain(Math.min(jobs, 2_000));
const rates: number[] = [];
const cpu: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  const before = process.cpuUsage();
  rates.push(Math.round((jobs / (await drain(jobs))) * 1000));
  const used = process.cpuUsage(before);
  cpu.push(Math.round((used.user + used.system) / 1000));
}
console.log(`${backend} c=${concurrency} ${jobs} jobs${prefetch > 0 ? ` --prefetch ${prefetch}` : ''}${RETENTION.keep === 'none' ? ' --keep none' : ''}: ${rates.join(' ')} jobs/s; CPU of this process ${cpu.join(' ')} ms`);
process.exit(0);
