/**
 * Scale-out (SPEC 17): 1, 2 and 4 `queue work` processes at c=50 draining one preloaded queue on
 * Redis or PostgreSQL, and where the aggregate stops growing: the CPU the server used over the run
 * next to the CPU our workers used, both from /proc, in percent of one core.
 *
 * The clock starts when every process is ready, not at the first spawn: starting four Node processes
 * on two cores takes longer than draining the queue, and the first one up would drain alone while
 * the others start. So the queue is paused (`queue pause`) before the workers start; once each has
 * said `worker started`, each is paused by SIGUSR2, the queue is resumed, and once every worker has
 * read the resume (it rereads the queue's signals each second while idle) all of them get SIGCONT,
 * which wakes a paused worker at once. From that SIGCONT to the last exit is the run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/backends.ts';
import { childEnv, expectExit0, readRecords, startQueue, type Child } from './children.ts';
import { BenchFailure, delay, elapsedSince, QUEUE, throughput, verifyExactlyOnce, waitFor } from './common.ts';
import type { Sample } from './figures.ts';
import { leftAfterRun, openOurs, pushOurs, type Ours } from './ours.ts';
import { withLoadedTables } from './sql.ts';

export type ScaleBackend = 'redis' | 'postgres';

export const SCALE_BACKENDS: readonly ScaleBackend[] = ['redis', 'postgres'];

export const SCALE_CONCURRENCY = 50;
/**
 * The workers' --sleep, seconds: how long an idle worker waits before it looks again. It bounds the
 * tail (a worker whose last jobs are still running when the queue runs dry waits that long before it
 * finds it empty and exits) and how soon a paused worker rereads the queue's signals.
 */
export const SCALE_SLEEP = 0.1;
/** Workers reread paused queues at most once a second (Worker.ts, SIGNAL_POLL_MS), plus one idle sleep. */
const RESUME_SEEN_MS = 1_000 + SCALE_SLEEP * 1_000 + 400;

export interface ScaleRun {
  processes: number;
  jobs: number;
  /** Every process ready and woken -> the last one exited. */
  ms: number;
  /** First spawn -> the last exit, start-up included. */
  spawnToExitMs: number;
  /** CPU over `ms`, percent of one core: the server's processes, our workers together, and the whole machine (every process, ours or not). */
  serverCpu: number;
  workersCpu: number;
  machineCpu: number;
  /** What the workers logged at warn and above, counted by message. */
  logs: string[];
  /** Jobs that ran (each exactly once) but were still stored after every worker had exited 0. */
  left: number;
}

/** A run as the bench's samples: throughput (with its CPU and spawn-to-exit in the detail), our workers' CPU, the server's, the machine's. */
export function scaleSamples(run: ScaleRun): { jobs: Sample; workers: Sample; server: Sample; machine: Sample } {
  const over = `over ${Math.round(run.ms).toLocaleString('en-US')} ms`;
  const jobs: Sample = { value: throughput(run.jobs, run.ms).jobsPerSec, detail: `${run.jobs.toLocaleString('en-US')} jobs in ${Math.round(run.ms).toLocaleString('en-US')} ms`, raw: { ...run } };
  // CPU time per job does not depend on how busy the machine is: it says where a quiet one would saturate.
  const perJob = (percent: number) => ((percent / 100) * run.ms * 1000) / run.jobs;
  jobs.detail += `; CPU: server ${run.serverCpu.toFixed(0)}%, workers ${run.workersCpu.toFixed(0)}%, machine ${run.machineCpu.toFixed(0)}%`;
  jobs.detail += ` (per job: server ${perJob(run.serverCpu).toFixed(0)} µs, workers ${perJob(run.workersCpu).toFixed(0)} µs); spawn to exit ${Math.round(run.spawnToExitMs).toLocaleString('en-US')} ms`;
  if (run.logs.length) jobs.detail += `; workers logged ${run.logs.join('; ')}`;
  if (run.left) jobs.detail += `; ${run.left} JOBS LEFT STORED`;
  return {
    jobs,
    workers: { value: run.workersCpu, detail: `our ${run.processes} workers' utime + stime ${over}` },
    server: { value: run.serverCpu, detail: `the server's utime + stime ${over}` },
    machine: { value: run.machineCpu, detail: `busy time of every core (/proc/stat) ${over}` },
  };
}

/** Pushes n Noops on `backend`, then drains them with `processes` workers at c=50. */
export function scaleRun(backend: ScaleBackend, processes: number, n: number): Promise<ScaleRun> {
  if (backend === 'postgres') return withLoadedTables('postgres', n, (ours, pushed, setup) => drain(backend, ours, pushed, setup.env, setup.dir, processes));
  return withLoadedRedis(n, (ours, pushed, env, dir) => drain(backend, ours, pushed, env, dir, processes));
}

async function withLoadedRedis<T>(n: number, work: (ours: Ours, pushed: string[], env: Record<string, string>, dir: string) => Promise<T>): Promise<T> {
  const prefix = `bench-scale-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-bench-scale-'));
  const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
  try {
    const pushed = await pushOurs(ours, n);
    return await work(ours, pushed, { QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix }, dir);
  } finally {
    await ours.close();
    await deleteRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drain(backend: ScaleBackend, ours: Ours, pushed: string[], env: Record<string, string>, dir: string, processes: number): Promise<ScaleRun> {
  const label = `${backend}: ${processes} processes c=${SCALE_CONCURRENCY}`;
  const files = Array.from({ length: processes }, (_, i) => path.join(dir, `scale-ids-${i}.txt`));
  const args = ['work', '--stop-when-empty', '--concurrency', String(SCALE_CONCURRENCY), '--sleep', String(SCALE_SLEEP), '--queue', QUEUE];
  await ours.driver.pause(QUEUE);
  const spawned = performance.now();
  // At info level a worker says when it has started and when it is paused; those lines are the handshake.
  const children = files.map((file) => startQueue(label, args, childEnv({ ...env, QUEUE_LOG_LEVEL: 'info', BENCH_RECORD_FILE: file })));
  try {
    await allSaid(label, children, 'worker started');
    for (const child of children) child.process.kill('SIGUSR2');
    await allSaid(label, children, 'paused (SIGUSR2)');
    await ours.driver.resume(QUEUE);
    await delay(RESUME_SEEN_MS);
    const server = serverCpuTicks(backend);
    const workersBefore = children.reduce((sum, child) => sum + cpuTicks(child.process.pid!), 0);
    const reapedBefore = reapedChildrenTicks();
    const machine = machineBusyTicks();
    const start = performance.now();
    for (const child of children) child.process.kill('SIGCONT');
    await Promise.all(children.map((child) => child.exited));
    const ms = elapsedSince(start);
    const spawnToExitMs = elapsedSince(spawned);
    // The workers have exited and been reaped: their whole CPU time is in this process's cutime.
    const workersTicks = reapedChildrenTicks() - reapedBefore - workersBefore;
    const serverTicks = serverCpuTicks(backend) - server;
    const machineTicks = machineBusyTicks() - machine;
    const logs = warnings(children);
    for (const child of children) await expectExit0(label, child);
    verifyExactlyOnce(label, pushed, readRecords(files));
    const left = await leftAfterRun(ours, label);
    return { processes, jobs: pushed.length, ms, spawnToExitMs, serverCpu: percentOfCore(serverTicks, ms), workersCpu: percentOfCore(workersTicks, ms), machineCpu: percentOfCore(machineTicks, ms), logs, left };
  } finally {
    for (const child of children) child.process.kill('SIGTERM');
    await Promise.all(children.map((child) => child.exited));
  }
}

async function allSaid(label: string, children: Child[], line: string): Promise<void> {
  const exited = new Set<Child>();
  for (const child of children) void child.exited.then(() => exited.add(child));
  await waitFor(`${label}: waiting for "${line}"`, () => exited.size > 0 || children.every((child) => child.stdout().includes(line)), 60_000, () => children.map((c) => c.output()).join('\n'));
  if (exited.size > 0) throw new BenchFailure(`${label}: a worker exited before it said "${line}":\n${[...exited].map((c) => c.output()).join('\n')}`);
}

/** The workers' log lines at warn and above (pino level >= 40), counted by message. */
function warnings(children: Child[]): string[] {
  const counts = new Map<string, number>();
  for (const child of children) {
    for (const line of `${child.stdout()}${child.stderr()}`.split('\n').filter((l) => l.trim())) {
      let entry: { level?: number; msg?: string } = { level: 50, msg: line.trim() };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        // not a log line: counted as it is
      }
      if ((entry.level ?? 0) < 40) continue;
      const key = String(entry.msg).slice(0, 160);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([message, n]) => `${n}x ${message}`);
}

// ---- CPU time from /proc ----

/** Linux's clock ticks per second (USER_HZ), the unit of the times in /proc/<pid>/stat. */
export const TICKS_PER_SECOND = 100;

function percentOfCore(ticks: number, ms: number): number {
  return (ticks / TICKS_PER_SECOND / (ms / 1000)) * 100;
}

/** /proc/<pid>/stat's fields after the command name: [state, ppid, ...]; utime is [11], cutime [13]. */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone between the listing and the read
  }
}

/** utime + stime of a live process (all its threads). */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return fields ? Number(fields[11]) + Number(fields[12]) : 0;
}

/** cutime + cstime of this process: the CPU of every child it has reaped. */
function reapedChildrenTicks(): number {
  const fields = statFields('self')!;
  return Number(fields[13]) + Number(fields[14]);
}

/** Every core's busy time so far (all but idle and iowait, from /proc/stat), in the same ticks. */
function machineBusyTicks(): number {
  const [, ...times] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = times.map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/**
 * The server's CPU so far: every redis-server process, or every postgres process. A PostgreSQL
 * backend that exits during the run takes its CPU time with it into the postmaster's cutime, so
 * that is counted too (the backends never fork, so theirs is 0). The servers are shared: anything
 * else that uses them meanwhile is in the figure.
 */
export function serverCpuTicks(backend: ScaleBackend): number {
  const name = backend === 'redis' ? 'redis-server' : 'postgres';
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== name) continue;
    const fields = statFields(Number(entry));
    if (fields) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks;
}
