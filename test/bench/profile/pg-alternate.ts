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
import { median, RETENTION } from '../lib/common.ts';
import { oursBulk, peerBulk, peerNamed, peerProcess } from '../lib/pgpeers.ts';
import { sqlInProcess } from '../lib/sql.ts';

const [figure, roundsArg = '6', ...rest] = process.argv.slice(2);
const rounds = Number(roundsArg);
const keepNone = rest.join(' ') === '--keep none';
if ((figure !== 'bulk' && figure !== 'c1') || !(rounds >= 1) || (rest.length > 0 && !keepNone)) throw new Error('usage: pg-alternate.ts bulk|c1 [ROUNDS] [--keep none]');
if (keepNone) RETENTION.keep = 'none';
const jobs = figure === 'bulk' ? 20_000 : 5_000;
const CHUNK = 1_000;
const graphile = peerNamed('graphile');

/** One run of each side, in ms, checked as the bench checks it (every job stored, or run exactly once). */
const ours = () => (figure === 'bulk' ? oursBulk(jobs, CHUNK) : sqlInProcess('postgres', jobs, 1));
const theirs = () => (figure === 'bulk' ? peerBulk(graphile, 'graphile-worker bulk', jobs, CHUNK) : peerProcess(graphile, 'graphile-worker c=1', jobs, 1));

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
