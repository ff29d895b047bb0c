/**
 * Ours and graphile-worker in strict alternation on the same PostgreSQL, for one figure of the
 * pgpeers part: the bench measures each side once a round, seconds apart, and on a shared machine
 * the server's own work after the heavier runs before (checkpoints, vacuum) lands on whoever comes
 * next; here each of ours is followed at once by one of theirs, R times, medians of each side.
 *
 *   node --import tsx test/bench/profile/pg-alternate.ts bulk|c1 [R] [--keep none]
 *
 * bulk: 20,000 jobs in calls of 1,000 (ours manager.push, graphile-worker addJobs); c1: one worker
 * at concurrency 1 drains 5,000 preloaded jobs (graphile-worker with its defaults, which deletes a
 * job when it is done; ours keeps a completed record unless --keep none, as the bench's own flag).
 * Each run gets fresh tables or a fresh schema, as in the bench; the peer runs under Node 22
 * (lib/node22.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { POSTGRES_URL } from '../../helpers/backends.ts';
import { BENCH_DIR, median, RETENTION } from '../lib/common.ts';
import { node22 } from '../lib/node22.ts';
import { pushOurs } from '../lib/ours.ts';
import { sqlInProcess, withLoadedTables } from '../lib/sql.ts';

const [figure, roundsArg = '6', ...rest] = process.argv.slice(2);
const rounds = Number(roundsArg);
const keepNone = rest.join(' ') === '--keep none';
if ((figure !== 'bulk' && figure !== 'c1') || !(rounds >= 1) || (rest.length > 0 && !keepNone)) throw new Error('usage: pg-alternate.ts bulk|c1 [ROUNDS] [--keep none]');
if (keepNone) RETENTION.keep = 'none';
const jobs = figure === 'bulk' ? 20_000 : 5_000;

async function ours(): Promise<number> {
  if (figure === 'c1') return sqlInProcess('postgres', jobs, 1);
  return withLoadedTables('postgres', 0, async (loaded) => {
    const start = performance.now();
    await pushOurs(loaded, jobs, 1_000);
    return performance.now() - start;
  });
}

async function theirs(): Promise<number> {
  const schema = `gw_${randomBytes(5).toString('hex')}`;
  const params = figure === 'bulk' ? { op: 'bulk', n: jobs, chunk: 1_000 } : { op: 'process', n: jobs, concurrency: 1, mode: 'default' };
  try {
    const child = spawn(node22().path, [path.join(BENCH_DIR, 'peers', 'graphile.mjs'), JSON.stringify({ ...params, url: POSTGRES_URL, schema })], { env: { ...process.env, NO_LOG_SUCCESS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (code !== 0 || !line) throw new Error(`graphile-worker's child exited ${code}`);
    return (JSON.parse(line.slice('RESULT '.length)) as { ms: number }).ms;
  } finally {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`).finally(() => client.end());
  }
}

const rate = (ms: number) => Math.round((jobs / ms) * 1000);
await ours(); // warm-up: the first run in a process compiles the library
const ourRates: number[] = [];
const theirRates: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  ourRates.push(rate(await ours()));
  theirRates.push(rate(await theirs()));
}
const [a, b] = [Math.round(median(ourRates)), Math.round(median(theirRates))];
console.log(`${figure}${keepNone ? ' (ours --keep none)' : ''}: ours ${ourRates.join(' ')} | graphile-worker ${theirRates.join(' ')} jobs/s | medians ${a} / ${b} = ${(a / b).toFixed(2)}x`);
process.exit(0);
