/**
 * `queue work` processes on PostgreSQL that go idle first (so they listen, as a deployed worker
 * does), then get JOBS pushed in bulks of 1,000: how fast they drain them, and the CPU the server
 * (every postgres process of this machine, counted as the scale part counts it) and the workers
 * spend per job. For changes to what an idle-then-busy worker hears or does, checkout against
 * checkout:
 *
 *   node --import tsx test/bench/profile/idle-workers.ts WORKERS JOBS [CONCURRENCY] [ROUNDS]
 *
 * Fresh tables each round (TEST_POSTGRES_URL picks the server); jobs/s counts from the first push
 * to the moment none is ready or reserved.
 */
import { childEnv, startQueue } from '../lib/children.ts';
import { QUEUE } from '../lib/common.ts';
import { benchStats } from '../lib/depth-load.ts';
import { pushOurs } from '../lib/ours.ts';
import { cpuTicks, serverCpuTicks, TICKS_PER_SECOND } from '../lib/scale.ts';
import { withLoadedTables } from '../lib/sql.ts';

const [workersArg, jobsArg, concurrencyArg = '50', roundsArg = '3'] = process.argv.slice(2);
const [workers, jobs, concurrency, rounds] = [Number(workersArg), Number(jobsArg), Number(concurrencyArg), Number(roundsArg)];
if (!(workers >= 1) || !(jobs >= 1) || !(concurrency >= 1) || !(rounds >= 1)) throw new Error('usage: idle-workers.ts WORKERS JOBS [CONCURRENCY] [ROUNDS]');

/** The idle time before the push: workers find the queue empty and wait on LISTEN. */
const IDLE_MS = 2_500;

for (let round = 0; round < rounds; round++) {
  await withLoadedTables('postgres', 0, async (ours, _pushed, setup) => {
    const children = Array.from({ length: workers }, () => startQueue('idle worker', ['work', '--concurrency', String(concurrency), '--queue', QUEUE], childEnv(setup.env)));
    try {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const workersCpu = () => children.reduce((sum, child) => sum + cpuTicks(child.process.pid!), 0);
      const [workersBefore, serverBefore, start] = [workersCpu(), serverCpuTicks('postgres'), performance.now()];
      await pushOurs(ours, jobs);
      for (let stats = await benchStats(ours.driver); stats.ready + stats.reserved > 0; stats = await benchStats(ours.driver)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const ms = performance.now() - start;
      const perJob = (ticks: number) => ((ticks / TICKS_PER_SECOND) * 1e6 / jobs).toFixed(0);
      console.log(`${workers} x queue work c=${concurrency}, ${jobs} jobs: ${Math.round((jobs / ms) * 1000)} jobs/s; CPU per job: postgres ${perJob(serverCpuTicks('postgres') - serverBefore)} µs, workers ${perJob(workersCpu() - workersBefore)} µs`);
    } finally {
      for (const child of children) child.process.kill('SIGTERM');
      await Promise.all(children.map((child) => child.exited));
    }
  });
}
process.exit(0);
