/** Shared pieces of the benchmark: paths, statistics, progress lines, and the exactly-once check. */
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const BENCH_DIR = path.resolve(import.meta.dirname, '..');
export const PROJECT_DIR = path.join(BENCH_DIR, 'project');
export const REPO_DIR = path.resolve(BENCH_DIR, '../..');
export const QUEUE_BIN = path.join(REPO_DIR, 'bin/queue.js');
/** The queue every benchmark job goes to (Noop's static queue). */
export const QUEUE = 'bench';

/**
 * What a done job leaves behind in this run (--keep): `records` (ours: the default retention, one
 * hour and 1,000 per queue; BullMQ: removeOnComplete { age: 3600, count: 1000 }) or `none` (ours:
 * keep: false; BullMQ: removeOnComplete: true).
 */
export const RETENTION: { keep: 'records' | 'none' } = { keep: 'records' };

/**
 * Which of our jobs the run dispatches (--jobs): `plain` (Noop), `priority` (every job priority 5)
 * or `unique` (every job a unique job with a key of its own), to set each beside the plain figures.
 */
export const JOB_KINDS = { plain: 'Noop', priority: 'PriorityNoop', unique: 'UniqueNoop' } as const;
export const JOBS: { kind: keyof typeof JOB_KINDS } = { kind: 'plain' };

export { delay };

/** A benchmark that found something wrong: the harness stops and says so, rather than report a number. */
export class BenchFailure extends Error {}

export function progress(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function elapsedSince(start: number): number {
  return performance.now() - start;
}

/** One timed run that moved `n` jobs. */
export interface Throughput {
  n: number;
  ms: number;
  jobsPerSec: number;
}

export function throughput(n: number, ms: number): Throughput {
  return { n, ms: Math.round(ms * 10) / 10, jobsPerSec: Math.round((n / ms) * 1000) };
}

/**
 * Fails loudly unless every pushed id ran exactly once and nothing else ran: speed must never come
 * from skipping (or double-running) work. `ran` lists every run, duplicates included.
 */
export function verifyExactlyOnce(label: string, pushed: readonly string[], ran: readonly string[]): void {
  const expected = new Set(pushed);
  if (expected.size !== pushed.length) throw new BenchFailure(`${label}: the push returned duplicate ids`);
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const unexpected: string[] = [];
  for (const id of ran) {
    if (seen.has(id)) duplicates.push(id);
    seen.add(id);
    if (!expected.has(id)) unexpected.push(id);
  }
  const missing = pushed.filter((id) => !seen.has(id));
  if (missing.length || duplicates.length || unexpected.length) {
    const sample = (ids: string[]) => ids.slice(0, 3).join(', ');
    throw new BenchFailure(
      `${label}: pushed ${pushed.length} jobs, ${ran.length} runs; ${missing.length} missing (${sample(missing)}), ` +
      `${duplicates.length} ran twice (${sample(duplicates)}), ${unexpected.length} not pushed (${sample(unexpected)})`,
    );
  }
}

/** Waits until `done()` holds, failing after `timeoutMs` with what `state()` says. */
export async function waitFor(label: string, done: () => boolean, timeoutMs: number, state: () => string = () => ''): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new BenchFailure(`${label}: timed out after ${timeoutMs} ms ${state()}`);
    await delay(5);
  }
}
