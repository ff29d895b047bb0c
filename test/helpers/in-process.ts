/**
 * Jobs, envelopes and workers for in-process tests against the in-memory driver: a registry of
 * small job classes defined here, stored jobs made as dispatch() makes them, and a Worker with
 * short sleeps and a silent logger.
 */
import pino, { type Logger } from 'pino';
import { Job, type JobContext } from '../../src/jobs/Job.ts';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../src/jobs/envelope.ts';
import { JobRegistry } from '../../src/jobs/registry.ts';
import { jobId } from '../../src/jobs/pack.ts';
import type { StoredJob } from '../../src/contract/driver.ts';
import type { Driver } from '../../src/contract/driver.ts';
import { Worker, type WorkerOptions } from '../../src/worker/Worker.ts';

/** Waits until `check` holds, looking every 5 ms; fails, naming `what`, after `ms`. A wait with no deadline would hang the suite instead of failing it. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await check()); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
  }
}

/** What the jobs below did, in order: "<job> <id> <attempt>", and "failed-hook <id> <message>". */
export const ran: string[] = [];

export class Quick extends Job {
  handle(ctx: JobContext): void {
    ran.push(`Quick ${ctx.id} ${ctx.attempt}`);
  }
}

export class Flaky extends Job {
  static maxTries = 3;
  static backoff = [2, 5];
  id = '';

  handle(ctx: JobContext): void {
    ran.push(`Flaky ${ctx.id} ${ctx.attempt}`);
    throw new Error('Flaky: down');
  }

  failed(error: Error): void {
    ran.push(`failed-hook ${this.id} ${error.message}`);
  }
}

export class Waits extends Job {
  ms = 50;

  async handle(ctx: JobContext): Promise<void> {
    ran.push(`Waits ${ctx.id} ${ctx.attempt}`);
    // As a well-behaved job does: it ends when told to stop at once, leaving no timer behind.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.ms);
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  failed(error: Error): void {
    ran.push(`failed-hook Waits ${error.message}`);
  }
}

export const registry = new JobRegistry([
  { name: 'Quick', jobClass: Quick, file: 'app/jobs/Quick.ts' },
  { name: 'Flaky', jobClass: Flaky, file: 'app/jobs/Flaky.ts' },
  { name: 'Waits', jobClass: Waits, file: 'app/jobs/Waits.ts' },
]);

/** A stored job of a class above, with `data` as its fields. */
export function stored(job: string, data: Record<string, unknown> = {}, queue = 'default', settings: { maxTries?: number | null; backoff?: number[] | null } = {}): StoredJob {
  const id = jobId();
  const payload = encodeEnvelope({
    v: ENVELOPE_VERSION, id, job, queue, data: { ...data, ...(job === 'Flaky' ? { id } : {}) }, attempts: 0,
    maxTries: settings.maxTries ?? null, timeout: null, backoff: settings.backoff ?? null, createdAt: Date.now(),
  });
  return { id, queue, payload, delayMs: 0, timeoutMs: null };
}

export const silent = pino({ level: 'silent' });

export function worker(driver: Driver, options: Partial<WorkerOptions> = {}, log: Logger = silent): Worker {
  return new Worker(driver, registry, {
    queues: ['default'],
    concurrency: 1,
    sleep: 0.02,
    rest: 0,
    once: false,
    stopWhenEmpty: true,
    defaults: { maxTries: 3, timeout: 5, backoff: [0] },
    leaseMargin: 1,
    ...options,
  }, log);
}
