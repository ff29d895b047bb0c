/**
 * What a unique key or a priority costs a dispatch on Redis: plain benchmark jobs and the kinds
 * named (unique: UniqueNoop, a key of its own each; priority: PriorityNoop, priority 5) pushed one
 * at a time and in bulks of 1,000, the kinds in turn for `rounds` rounds, on the Redis at
 * TEST_REDIS_URL (best a private one: the script time is read from INFO commandstats, reset before
 * each measure). The bulk's jobs count on from the single pushes', so no unique job is a duplicate.
 * Prints per kind and shape the median wall time (per job, per 1,000 jobs) and the median script
 * time per call, then each kind's rates against plain ones'.
 *
 *   TEST_REDIS_URL=redis://127.0.0.1:6399 node --import tsx test/bench/profile/unique-cost.ts [rounds=5] [kinds=unique]
 *   (kinds: unique, priority or both, comma-separated)
 */
import { Redis } from 'ioredis';
import { REDIS_URL } from '../../helpers/backends.ts';
import { JOBS, median } from '../lib/common.ts';
import { withOurs } from '../lib/redis.ts';
import { BULK_CHUNK, pushOurs } from '../lib/ours.ts';

const rounds = Number(process.argv[2] ?? 5);
const kinds = ['plain', ...(process.argv[3] ?? 'unique').split(',')] as ('plain' | 'priority' | 'unique')[];
for (const kind of kinds.slice(1)) if (kind !== 'priority' && kind !== 'unique') throw new Error(`${kind}: not one of unique, priority`);
const ONE = 4_000;
const BULK = 20_000;
const admin = new Redis(REDIS_URL);

async function scriptUs(): Promise<number> {
  const info = await admin.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return m ? Number(m[2]) / Number(m[1]) : NaN;
}

type Figures = Record<string, { wall: number[]; script: number[] }>;
const figures: Figures = {};
function note(name: string, wallUsPerJob: number, script: number): void {
  (figures[name] ??= { wall: [], script: [] }).wall.push(wallUsPerJob);
  figures[name].script.push(script);
}

for (let r = 0; r < rounds + 1; r++) {
  for (const kind of kinds) {
    JOBS.kind = kind;
    await withOurs(async (ours) => {
      await admin.config('RESETSTAT');
      let start = performance.now();
      for (let i = 0; i < ONE; i++) await ours.manager.push([ours.job(i)]);
      const one = ((performance.now() - start) * 1000) / ONE;
      const oneScript = await scriptUs();
      await admin.config('RESETSTAT');
      start = performance.now();
      await pushOurs(ours, BULK, BULK_CHUNK, ONE);
      const bulk = ((performance.now() - start) * 1000) / BULK;
      const bulkScript = await scriptUs();
      if (r > 0) {
        note(`${kind} one`, one, oneScript);
        note(`${kind} bulk`, bulk * 1000, bulkScript);
      }
    });
  }
}
for (const [name, f] of Object.entries(figures)) {
  console.log(`${name.padEnd(12)} wall ${median(f.wall).toFixed(1)} us/${name.endsWith('bulk') ? '1000 jobs' : 'job'}  script ${median(f.script).toFixed(1)} us/call`);
}
/** The unique jobs' rate against plain ones' (the inverse of their wall times). */
const rate = (kind: string, shape: string) => (median(figures[`plain ${shape}`]!.wall) / median(figures[`${kind} ${shape}`]!.wall)).toFixed(3);
for (const kind of kinds.slice(1)) console.log(`${kind}/plain rate: one ${rate(kind, 'one')}  bulk ${rate(kind, 'bulk')}`);
admin.quit();
