/**
 * The per-job budget table of docs/performance.md ("Against the floor"): floor-profile.ts run R times per path (each a
 * fresh process, one after another), medians of each figure. On a shared machine single runs
 * scatter by 2x; CPU times scatter much less than wall times, so the table gives both.
 *
 *   TEST_REDIS_URL=redis://127.0.0.1:6390/0 node --import tsx test/bench/profile/budget.ts [ROUNDS] [N]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { median } from '../lib/common.ts';

interface Result {
  jobsPerSec: number;
  wallUsPerJob: number;
  clientCpuUsPerJob: number;
  clientMainThreadUsPerJob: number;
  serverCpuUsPerJob: number | null;
  commands: Record<string, { callsPerJob: number; serverUsPerJob: number; usPerCall: number }>;
}

const rounds = Number(process.argv[2] ?? 5);
const jobs = process.argv[3] ?? '10000';
const PATHS: [string, string[]][] = [
  ['bare EVALSHA (floor)', ['floor']],
  ['dispatch one at a time', ['dispatch']],
  ['dispatch, --keep none', ['dispatch', '--keep', 'none']],
  ['c=1 processing', ['c1']],
  ['c=1, --keep none', ['c1', '--keep', 'none']],
];

const script = new URL('./floor-profile.ts', import.meta.url).pathname;
const results = new Map<string, Result[]>(PATHS.map(([name]) => [name, []]));
const loads: number[] = [];
// Round by round rather than path by path, so a busy spell of the machine hits every path alike.
for (let round = 0; round < rounds; round++) {
  for (const [name, args] of PATHS) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, args[0]!, jobs, ...args.slice(1)], { encoding: 'utf8', env: process.env });
    if (run.status !== 0) throw new Error(`${name}: exit ${run.status}\n${run.stderr}`);
    results.get(name)!.push(JSON.parse(run.stdout) as Result);
  }
  loads.push(loadavg()[0]!);
  process.stderr.write(`round ${round + 1} of ${rounds} done, load ${loads.at(-1)!.toFixed(1)}\n`);
}

const SCRIPT_COMMANDS = new Set(['evalsha', 'script|load']);
const columns: [string, (r: Result) => number][] = [
  ['jobs/s', (r) => r.jobsPerSec],
  ['wall µs/job', (r) => r.wallUsPerJob],
  ['client CPU µs/job', (r) => r.clientCpuUsPerJob],
  ['of which main thread', (r) => r.clientMainThreadUsPerJob],
  ['Redis CPU µs/job', (r) => r.serverCpuUsPerJob ?? Number.NaN],
  ['script µs/call (wall, in Redis)', (r) => r.commands.evalsha?.usPerCall ?? Number.NaN],
  ['commands run by the script/job', (r) => Object.entries(r.commands).filter(([c]) => !SCRIPT_COMMANDS.has(c)).reduce((sum, [, v]) => sum + v.callsPerJob, 0)],
  ['their µs/job', (r) => Object.entries(r.commands).filter(([c]) => !SCRIPT_COMMANDS.has(c)).reduce((sum, [, v]) => sum + v.serverUsPerJob, 0)],
];
console.log(`medians of ${rounds} runs of ${jobs} jobs each; load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} on this machine`);
console.log(`| | ${PATHS.map(([name]) => name).join(' | ')} |`);
console.log(`|---|${PATHS.map(() => '---:').join('|')}|`);
for (const [label, value] of columns) {
  const cells = PATHS.map(([name]) => median(results.get(name)!.map(value)));
  console.log(`| ${label} | ${cells.map((c) => (c >= 1000 ? Math.round(c).toLocaleString('en-US') : c.toFixed(1))).join(' | ')} |`);
}
