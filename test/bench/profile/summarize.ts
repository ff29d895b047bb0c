/**
 * Reads a V8 .cpuprofile (from floor-profile.ts --profile, or node --cpu-prof) and says where the
 * main thread's busy time went: shares by where the code lives (our dist/, ioredis, other packages,
 * Node's own, GC), by file and by function (self time).
 *
 *   node --import tsx test/bench/profile/summarize.ts FILE.cpuprofile [JOBS]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, jobsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: summarize.ts FILE.cpuprofile [JOBS]\n');
  process.exit(2);
}
const jobs = Number(jobsArg ?? 1);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

/** Where a function lives, by its script's URL. */
function placeOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName || '(anonymous native)';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/node_modules/ioredis/')) return 'ioredis';
  if (url.includes('/node_modules/')) return `package ${url.split('/node_modules/')[1]!.split('/')[0]}`;
  if (url.includes('/dist/')) return 'ours (dist/)';
  if (url.includes('/test/')) return 'bench harness';
  return url;
}

const selfUs = new Map<number, number>();
// timeDeltas[i] is the time before sample i: it belongs to the sample before it.
for (let i = 1; i < profile.samples.length; i++) {
  const id = profile.samples[i - 1]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + profile.timeDeltas[i]!);
}

const places = new Map<string, number>();
const files = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  total += us;
  const place = placeOf(node);
  places.set(place, (places.get(place) ?? 0) + us);
  const { functionName, url, lineNumber } = node.callFrame;
  if (url && !url.startsWith('node:')) {
    const short = url.replace(/^.*\/(dist|node_modules|test)\//, '$1/');
    files.set(short, (files.get(short) ?? 0) + us);
  }
  const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(dist|node_modules|test)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
  functions.set(name, (functions.get(name) ?? 0) + us);
}

// Samples are taken by wall clock: on a busy machine a thread that was preempted is charged to the
// function it was in, so the µs below are wall time; the shares of busy time are what carry over
// (multiply them by the thread's measured CPU time, as docs/performance.md does).
const idle = places.get('(idle)') ?? 0;
const busy = total - idle;
const share = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
const sorted = (map: Map<string, number>) => [...map].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1]);
console.log(`profile of ${jobs} jobs: main thread busy ${(busy / jobs).toFixed(1)} µs/job, idle ${(idle / jobs).toFixed(1)} µs/job (wall); shares of busy time:`);
console.log('by place:');
for (const [place, us] of sorted(places)) console.log(`  ${share(us)}  ${place}`);
console.log('by file:');
for (const [name, us] of sorted(files).slice(0, 25)) console.log(`  ${share(us)}  ${name}`);
console.log('by function (self time):');
for (const [name, us] of sorted(functions).slice(0, 30)) console.log(`  ${share(us)}  ${name}`);
