/**
 * Ours and graphile-worker in strict alternation on the same PostgreSQL, for one figure of the
 * pgpeers part: the bench measures each side once a round, seconds apart, and on a shared machine
 * the server's own work after the heavier runs before (checkpoints, vacuum) lands on whoever comes
 * next; here each of ours is followed at once by one of theirs, R times, medians of each side.
 *
 *   node --import tsx test/bench/profile/pg-alternate.ts bulk|c1|c1b|c50b [R] [--keep none]
 *
 * bulk: 20,000 jobs in calls of 1,000 (ours manager.push, graphile-worker addJobs); c1: one worker
 * at concurrency 1 drains 5,000 preloaded jobs (graphile-worker with its defaults, which deletes a
 * job when it is done; ours keeps a completed record unless --keep none, as the bench's own flag);
 * c1b and c50b: one worker at concurrency 1 or 50 drains 20,000, ours with --prefetch 500 against
 * graphile-worker batched (its local queue of 500 and batched completion).
 * Each run gets fresh tables or a fresh schema, as in the bench; the peer runs under Node 22
 * (lib/node22.ts).
 */
import { median, RETENTION } from '../lib/common.ts';
import { oursBulk, peerBulk, peerNamed, peerProcess } from '../lib/pgpeers.ts';
import { sqlInProcess } from '../lib/sql.ts';

const [figure, roundsArg = '6', ...rest] = process.argv.slice(2);
const rounds = Number(roundsArg);
const keepNone = rest.join(' ') === '--keep none';
const FIGURES = ['bulk', 'c1', 'c1b', 'c50b'];
if (!FIGURES.includes(figure ?? '') || !(rounds >= 1) || (rest.length > 0 && !keepNone)) throw new Error(`usage: pg-alternate.ts ${FIGURES.join('|')} [ROUNDS] [--keep none]`);
if (keepNone) RETENTION.keep = 'none';
const batched = figure === 'c1b' || figure === 'c50b';
const jobs = figure === 'c1' ? 5_000 : 20_000;
const concurrency = figure === 'c50b' ? 50 : 1;
const CHUNK = 1_000;
const PREFETCH = 500;
const peer = peerNamed(batched ? 'graphileBatched' : 'graphile');

/** One run of each side, in ms, checked as the bench checks it (every job stored, or run exactly once). */
const ours = () => (figure === 'bulk' ? oursBulk(jobs, CHUNK) : sqlInProcess('postgres', jobs, concurrency, batched ? { prefetch: PREFETCH } : {}));
const theirs = () => (figure === 'bulk' ? peerBulk(peer, `${peer.name} bulk`, jobs, CHUNK) : peerProcess(peer, `${peer.name} c=${concurrency}`, jobs, concurrency));

const rate = (ms: number) => Math.round((jobs / ms) * 1000);
await ours(); // warm-up: the first run in a process compiles the library
const ourRates: number[] = [];
const theirRates: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  ourRates.push(rate(await ours()));
  theirRates.push(rate(await theirs()));
}
const [a, b] = [Math.round(median(ourRates)), Math.round(median(theirRates))];
console.log(`${figure}${keepNone ? ' (ours --keep none)' : ''}${batched ? ` (ours --prefetch ${PREFETCH})` : ''}: ours ${ourRates.join(' ')} | ${peer.name} ${theirRates.join(' ')} jobs/s | medians ${a} / ${b} = ${(a / b).toFixed(2)}x`);
process.exit(0);
