/**
 * Part 3: worker memory. The RSS of an idle `queue work` process on Redis, and how a worker's RSS
 * grows over 100,000 trivial jobs (measured in a child that reports its own RSS).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/backends.ts';
import { childEnv, expectExit0, readRecords, startChild } from './children.ts';
import { BENCH_DIR, BenchFailure, QUEUE, QUEUE_BIN, delay, elapsedSince, verifyExactlyOnce, waitFor } from './common.ts';
import { expectEmpty, openOurs, pushOurs } from './ours.ts';

const MB = 1024 * 1024;

function vmRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new BenchFailure(`cannot read VmRSS of pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** RSS (MB) of `queue work` on Redis after it has started and sat idle for `idleMs`. */
export async function idleRss(idleMs = 2_000): Promise<number> {
  const prefix = `bench-idle-${randomUUID().slice(0, 8)}`;
  const label = 'idle worker RSS';
  // At info level the worker says when it has started; an idle worker logs nothing more.
  const env = childEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix, QUEUE_LOG_LEVEL: 'info' });
  const child = startChild(label, [QUEUE_BIN, 'work', '--queue', QUEUE], env);
  try {
    let exitedEarly = false;
    void child.exited.then(() => (exitedEarly = true));
    await waitFor(label, () => child.stdout().includes('worker started') || exitedEarly, 60_000, () => child.output());
    if (exitedEarly) throw new BenchFailure(`${label}: the worker exited at start-up:\n${child.output()}`);
    await delay(idleMs);
    return vmRssBytes(child.process.pid!) / MB;
  } finally {
    child.process.kill('SIGTERM');
    await expectExit0(label, child);
    await deleteRedisPrefix(prefix);
  }
}

export interface Growth {
  jobs: number;
  concurrency: number;
  ms: number;
  /** RSS after the first 1,000 jobs and after the last, MB. */
  rssAfter1k: number;
  rssAfterAll: number;
  growth: number;
  peak: number;
}

/** Pushes `jobs` Noops on Redis, then a child worker drains them and reports its RSS. */
export async function rssGrowth(jobs: number, concurrency: number): Promise<Growth> {
  const prefix = `bench-mem-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-bench-mem-'));
  const file = path.join(dir, 'ids.txt');
  const label = `RSS growth over ${jobs} jobs`;
  const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
  try {
    const pushed = await pushOurs(ours, jobs, 5_000);
    const env = childEnv({ REDIS_URL, BENCH_PREFIX: prefix, BENCH_RECORD_FILE: file, BENCH_CONCURRENCY: String(concurrency) });
    const start = performance.now();
    const child = startChild(label, ['--import', 'tsx', path.join(BENCH_DIR, 'memory-worker.ts')], env);
    await expectExit0(label, child);
    const ms = elapsedSince(start);
    const report = JSON.parse(child.stdout().trim().split('\n').at(-1) ?? '{}') as { samples?: [number, number][] };
    const samples = report.samples ?? [];
    const at = (n: number) => samples.find(([count]) => count === n)?.[1];
    const first = at(1_000);
    const last = at(jobs);
    if (first === undefined || last === undefined) throw new BenchFailure(`${label}: the child reported no RSS at 1,000 or ${jobs} jobs:\n${child.output()}`);
    verifyExactlyOnce(label, pushed, readRecords([file]));
    await expectEmpty(ours, label);
    return {
      jobs,
      concurrency,
      ms: Math.round(ms),
      rssAfter1k: first / MB,
      rssAfterAll: last / MB,
      growth: (last - first) / MB,
      peak: Math.max(...samples.map(([, rss]) => rss)) / MB,
    };
  } finally {
    await ours.close();
    await deleteRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
