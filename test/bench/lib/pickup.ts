/**
 * Pick-up latency on SQL (SPEC 17): one idle `queue work` child with its default settings, as a
 * deployment runs it, and jobs dispatched from this process one at a time. Each job writes the
 * moment it started (Pickup); its latency is that minus the moment just before its push call, both
 * epoch times to a fraction of a millisecond. The worker is in another process, so a push from the
 * same process (which can wake a worker at once) does not flatter the figure. Also the CPU the idle
 * worker uses, from /proc/<pid>/stat: over its first seconds of idleness, and over as many after.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JobClass } from '../../../src/jobs/Job.ts';
import { childEnv, expectExit0, startQueue, type Child } from './children.ts';
import { BenchFailure, delay, QUEUE, verifyExactlyOnce } from './common.ts';
import { withLoadedTables, type SqlBackend } from './sql.ts';

export interface PickupPlan {
  samples: number;
  /** Jobs run first, not counted: the worker is up and has done its first claims. */
  warmup: number;
  /**
   * The pause between one job's start and the next push, drawn at random from this range (ms): far
   * wider than the longest a worker goes without looking (150 ms on MariaDB and SQLite; PostgreSQL
   * hears the push), so a push falls at any point between two of its looks, not always at the same
   * distance from the job before.
   */
  gapMs: [number, number];
  /** How long each of the idle worker's two CPU windows lasts (ms). */
  cpuMs: number;
}

export interface PickupResult {
  /** Dispatch-to-start, ms, one per sample. */
  latencies: number[];
  /** CPU time the idle worker used over its first `cpuMs` of idleness, in percent of one core. */
  idleCpu: number;
  /**
   * The same over the `cpuMs` after those: settled, with what the warm-up jobs and start-up left
   * for V8 to collect and compile mostly done.
   */
  settledCpu: number;
}

/** Linux's clock ticks per second (USER_HZ), the unit of utime and stime in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

const epochNow = () => performance.timeOrigin + performance.now();

export function sqlPickup(backend: SqlBackend, plan: PickupPlan): Promise<PickupResult> {
  return withLoadedTables(backend, 0, async (ours, _pushed, setup) => {
    const label = `${backend}: pick-up latency`;
    const file = path.join(setup.dir, 'started.txt');
    const Pickup = ours.registry.require('Pickup').jobClass as JobClass;
    const child = startQueue(label, ['work', '--queue', QUEUE], childEnv({ ...setup.env, BENCH_PICKUP_FILE: file }));
    const pushed: string[] = [];
    const dispatch = async (timeoutMs = 10_000): Promise<number> => {
      const dispatchedAt = epochNow();
      const [stored] = await ours.manager.push([new Pickup()]);
      pushed.push(stored!.id);
      return (await startOf(label, file, stored!.id, child, timeoutMs)) - dispatchedAt;
    };
    try {
      await dispatch(30_000);
      for (let i = 1; i < plan.warmup; i++) await dispatch();
      await delay(plan.gapMs[1]);
      const idleCpu = await cpuPercent(child, plan.cpuMs);
      const settledCpu = await cpuPercent(child, plan.cpuMs);
      const latencies: number[] = [];
      for (let i = 0; i < plan.samples; i++) {
        await delay(plan.gapMs[0] + Math.random() * (plan.gapMs[1] - plan.gapMs[0]));
        latencies.push(await dispatch());
      }
      verifyExactlyOnce(label, pushed, startLines(file).map(([id]) => id));
      return { latencies, idleCpu, settledCpu };
    } finally {
      child.process.kill('SIGTERM');
      await expectExit0(label, child);
    }
  });
}

/** The lines Pickup wrote: [id, started at]. */
function startLines(file: string): [string, number][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [id, at] = line.split(' ');
    return [id!, Number(at)];
  });
}

/** When the job started, by its own line; looked for every 2 ms (the time comes from the job). */
async function startOf(label: string, file: string, id: string, child: Child, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = startLines(file).find(([ran]) => ran === id);
    if (line) return line[1];
    if (child.process.exitCode !== null) throw new BenchFailure(`${label}: the worker exited ${child.process.exitCode}:\n${child.output()}`);
    if (Date.now() > until) throw new BenchFailure(`${label}: job ${id} did not start within ${timeoutMs} ms:\n${child.output()}`);
    await delay(2);
  }
}

/** The child's CPU time (user and system, every thread) over `ms`, as a percentage of one core. */
async function cpuPercent(child: Child, ms: number): Promise<number> {
  const ticks = () => {
    // Fields after the command (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${child.process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const before = ticks();
  const start = performance.now();
  await delay(ms);
  const used = (ticks() - before) / TICKS_PER_SECOND;
  return (used / ((performance.now() - start) / 1000)) * 100;
}
