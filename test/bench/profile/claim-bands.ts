/**
 * The SQL claim with jobs in three priority bands against one (docs/performance.md, "What
 * priorities, unique jobs and expiry cost"): W in-process workers at concurrency C drain N jobs, a
 * third each at priority 5, 0 and -1 (`bands`, or PRIOS=a,b,c) or all at 0 (`flat`), in turn for
 * ROUNDS rounds, each in fresh tables; prints jobs/s per run and the medians. Uses the built
 * library (`npm run build` first), as the bench does, and its checks: every job ran exactly once
 * and the queue is empty afterwards.
 *
 *   BACKEND=mariadb|postgres|sqlite [N=12000 W=4 C=4 ROUNDS=3 PRIOS=5,0,-1] node --import tsx test/bench/profile/claim-bands.ts
 */
import { setRunHook } from '../project/sink.ts';
import { median, verifyExactlyOnce } from '../lib/common.ts';
import { expectEmpty, newWorker, runWorker, workerOptions } from '../lib/ours.ts';
import { withLoadedTables, type SqlBackend } from '../lib/sql.ts';

const N = Number(process.env.N ?? 12_000);
const W = Number(process.env.W ?? 4);
const C = Number(process.env.C ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BACKEND = (process.env.BACKEND ?? 'mariadb') as SqlBackend;
const BANDS = (process.env.PRIOS ?? '5,0,-1').split(',').map(Number);
const CHUNK = 1_000;

/** Jobs/s of W workers draining N jobs spread over `priorities`; each job must run exactly once and the queue end empty, as in the bench. */
async function drain(priorities: number[]): Promise<number> {
  const perBand = Math.ceil(N / priorities.length);
  const total = perBand * priorities.length;
  const ms = await withLoadedTables(BACKEND, 0, async (ours) => {
    const pushed: string[] = [];
    for (const [band, priority] of priorities.entries()) {
      for (let start = 0; start < perBand; start += CHUNK) {
        const jobs = Array.from({ length: Math.min(CHUNK, perBand - start) }, (_, k) => ours.job(band * perBand + start + k));
        pushed.push(...(await ours.manager.push(jobs, { priority })).map((stored) => stored.id));
      }
    }
    const ran: string[] = [];
    setRunHook((id) => ran.push(id));
    try {
      const started = performance.now();
      await Promise.all(Array.from({ length: W }, async () => runWorker(await newWorker(ours, workerOptions(C)))));
      const took = performance.now() - started;
      const label = `${BACKEND}: ${W} workers c=${C}, priorities ${priorities.join(', ')}`;
      verifyExactlyOnce(label, pushed, ran);
      await expectEmpty(ours, label);
      return took;
    } finally {
      setRunHook(undefined);
    }
  });
  return (total / ms) * 1000;
}

const results: Record<'flat' | 'bands', number[]> = { flat: [], bands: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of ['flat', 'bands'] as const) {
    const perSecond = await drain(kind === 'bands' ? BANDS : BANDS.map(() => 0));
    results[kind].push(perSecond);
    console.log(`round ${round} ${kind}: ${Math.round(perSecond).toLocaleString('en')} jobs/s`);
  }
}
console.log(`${BACKEND}, ${N} jobs, ${W} workers at c=${C}: flat (all at 0) median ${Math.round(median(results.flat)).toLocaleString('en')} jobs/s; bands (${BANDS.join(', ')}) median ${Math.round(median(results.bands)).toLocaleString('en')} jobs/s`);
