/**
 * What the PostgreSQL peers' child scripts share (they run under Node 22, as plain JavaScript, with
 * graphile-worker and pg-boss from the repo's node_modules). The parent (lib/pgpeers.ts) passes one
 * JSON argument and reads one line back: `RESULT {json}` on stdout; a failure is a message on stderr
 * and exit code 1. Anything else a library prints is ignored by the parent.
 *
 * Parameters: { op: 'process' | 'bulk' | 'latency', url, schema, n, chunk, concurrency, mode, plan }.
 */
import { setTimeout as delay } from 'node:timers/promises';

export { delay };

export const QUEUE = 'bench';

export function readParams() {
  return JSON.parse(process.argv[2] ?? '{}');
}

/** Runs `main`, prints its result as the RESULT line, and exits (0, or 1 with the error). */
export function runChild(main) {
  main(readParams()).then(
    // Exit only once the line is out: stdout to a pipe is asynchronous, and a prompt exit cuts it.
    (result) => process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0)),
    (error) => process.stderr.write(`${error?.stack ?? error}\n`, () => process.exit(1)),
  );
}

/** Waits until `done()` (sync or async) holds, looking every `everyMs`; fails after `timeoutMs`. */
export async function waitUntil(what, done, timeoutMs = 600_000, everyMs = 2) {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** n job payloads {i, t: 0} in chunks of `chunk` (the same small payload our Noop carries). */
export function* chunks(n, chunk) {
  for (let start = 0; start < n; start += chunk) {
    yield Array.from({ length: Math.min(chunk, n - start) }, (_, k) => ({ i: start + k, t: 0 }));
  }
}

/**
 * Handle starts, by job id, for the pick-up latency: the handler calls `started(id)`; `of(id)` waits
 * for that id (10 s at most) and returns when it started (performance.now()).
 */
export class Starts {
  ran = [];
  #at = new Map();
  #waiting = new Map();

  started = (id) => {
    const key = String(id);
    this.#at.set(key, performance.now());
    this.ran.push(key);
    this.#waiting.get(key)?.();
  };

  async of(id) {
    const key = String(id);
    if (!this.#at.has(key)) {
      let timer;
      await new Promise((resolve, reject) => {
        this.#waiting.set(key, resolve);
        timer = setTimeout(() => reject(new Error(`job ${key} did not start within 10 s`)), 10_000);
      }).finally(() => {
        clearTimeout(timer);
        this.#waiting.delete(key);
      });
    }
    return this.#at.get(key);
  }
}

/**
 * The latency loop every peer shares: an idle worker, then one push at a time after a random pause
 * in plan.gapMs, timed from just before the push call to the handler's start. `push(i)` returns the
 * id. Returns the samples after plan.warmup, and every pushed id.
 */
export async function sampleLatency(plan, starts, push) {
  const latencies = [];
  const pushed = [];
  for (let i = 0; i < plan.warmup + plan.samples; i++) {
    await delay(plan.gapMs[0] + Math.random() * (plan.gapMs[1] - plan.gapMs[0]));
    const before = performance.now();
    const id = String(await push(i));
    pushed.push(id);
    const at = await starts.of(id);
    if (i >= plan.warmup) latencies.push(at - before);
  }
  return { latencies, pushed, ran: starts.ran };
}
