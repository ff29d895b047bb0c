/**
 * Part 3: worker memory. The RSS of an idle `queue work` process on Redis, and how a `queue work`
 * process's RSS grows over 100,000 trivial jobs. Both are the binary run by itself, as supervisord
 * or systemd run it (its shebang sets node's memory flags), and both read VmRSS from /proc.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/backends.ts';
import { childEnv, expectExit0, readRecords, startQueue } from './children.ts';
import { BenchFailure, QUEUE, delay, elapsedSince, verifyExactlyOnce, waitFor } from './common.ts';
import { expectEmpty, openOurs, pushOurs } from './ours.ts';

const MB = 1024 * 1024;

function vmRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new BenchFailure(`cannot read VmRSS of pid ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * RSS (MB) of one `queue work` process on Redis, read at each of `atMs` (ms of idling after it
 * says it has started). V8 trims a new process's heap and flushes its start-up code only after
 * some seconds of idling, so an early reading shows start-up, a later one the settled worker.
 */
export async function idleRss(atMs: number[]): Promise<number[]> {
  const prefix = `bench-idle-${randomUUID().slice(0, 8)}`;
  const label = 'idle worker RSS';
  // At info level the worker says when it has started; an idle worker logs nothing more.
  const env = childEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix, QUEUE_LOG_LEVEL: 'info' });
  const child = startQueue(label, ['work', '--queue', QUEUE], env);
  try {
    let exitedEarly = false;
    void child.exited.then(() => (exitedEarly = true));
    await waitFor(label, () => child.stdout().includes('worker started') || exitedEarly, 60_000, () => child.output());
    if (exitedEarly) throw new BenchFailure(`${label}: the worker exited at start-up:\n${child.output()}`);
    const readings: number[] = [];
    let idled = 0;
    for (const at of atMs) {
      await delay(at - idled);
      idled = at;
      readings.push(vmRssBytes(child.process.pid!) / MB);
    }
    return readings;
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

/** The bench project's Noop records each id as a UUID and a newline, 500 at a time. */
const RECORD_LINE_BYTES = 37;
const RECORD_BATCH = 500;

/**
 * Pushes `jobs` Noops on Redis, then a `queue work` process drains them while this process reads its
 * VmRSS every few milliseconds, with how many ids it has recorded so far (start-up is in `ms`).
 */
export async function rssGrowth(jobs: number, concurrency: number): Promise<Growth> {
  const prefix = `bench-mem-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-bench-mem-'));
  const file = path.join(dir, 'ids.txt');
  const label = `RSS growth over ${jobs} jobs`;
  const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
  try {
    const pushed = await pushOurs(ours, jobs, 5_000);
    const env = childEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix, BENCH_RECORD_FILE: file });
    const start = performance.now();
    const child = startQueue(label, ['work', '--queue', QUEUE, '--concurrency', String(concurrency)], env);
    let exited = false;
    void child.exited.then(() => (exited = true));
    const recorded = () => (existsSync(file) ? statSync(file).size / RECORD_LINE_BYTES : 0);
    // The last ids of a count that is not a multiple of the batch are written at exit.
    const allWritten = jobs - (jobs % RECORD_BATCH);
    const samples: [number, number][] = [];
    let ms = 0;
    try {
      await waitFor(label, () => {
        if (exited) return true;
        samples.push([recorded(), vmRssBytes(child.process.pid!)]);
        return samples.at(-1)![0] >= allWritten;
      }, 300_000, () => child.output());
      ms = elapsedSince(start);
      if (exited) throw new BenchFailure(`${label}: the worker exited before it drained the queue:\n${child.output()}`);
    } finally {
      child.process.kill('SIGTERM');
      await expectExit0(label, child);
    }
    const first = samples.find(([count]) => count >= 1_000);
    const last = samples.at(-1);
    if (!first || !last) throw new BenchFailure(`${label}: no RSS sample after 1,000 jobs:\n${child.output()}`);
    verifyExactlyOnce(label, pushed, readRecords([file]));
    await expectEmpty(ours, label);
    return {
      jobs,
      concurrency,
      ms: Math.round(ms),
      rssAfter1k: first[1] / MB,
      rssAfterAll: last[1] / MB,
      growth: (last[1] - first[1]) / MB,
      peak: Math.max(...samples.map(([, rss]) => rss)) / MB,
    };
  } finally {
    await ours.close();
    await deleteRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
