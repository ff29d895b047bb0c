/**
 * Where Noop reports each run (outside app/jobs, so the registry does not take it for a job).
 * In the harness's own process a hook receives every run; in a `queue work` child the ids go to
 * BENCH_RECORD_FILE, one per line, written in batches and at exit, so the harness can check that
 * exactly the pushed jobs ran.
 */
import { appendFileSync } from 'node:fs';

export type RunHook = (id: string, dispatchedAt: number) => void;

const HOOK = Symbol.for('queue.bench.runHook');
const slot = globalThis as { [HOOK]?: RunHook };

/** Sets (or with undefined, removes) the in-process hook. */
export function setRunHook(hook: RunHook | undefined): void {
  slot[HOOK] = hook;
}

const FLUSH_EVERY = 500;
let pending: string[] = [];
let exitHookInstalled = false;

/** Appends the buffered ids to BENCH_RECORD_FILE. */
export function flushRecords(): void {
  const file = process.env.BENCH_RECORD_FILE;
  if (!file || pending.length === 0) return;
  appendFileSync(file, `${pending.join('\n')}\n`);
  pending = [];
}

/** Buffers one id for BENCH_RECORD_FILE (flushed every few hundred and when the process exits). */
export function recordToFile(id: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', flushRecords);
  }
  pending.push(id);
  if (pending.length >= FLUSH_EVERY) flushRecords();
}

export function jobRan(id: string, dispatchedAt: number): void {
  const hook = slot[HOOK];
  if (hook) hook(id, dispatchedAt);
  else recordToFile(id);
}
