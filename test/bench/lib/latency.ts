/** Pick-up latency: push one job at a time to an idle worker and time push-call-to-handle-start. */
import { BenchFailure, delay, verifyExactlyOnce } from './common.ts';

/** Collects handle starts (called from the job, in this process) and lets a sampler await one id. */
export class Pickups {
  readonly ran: string[] = [];
  private readonly latency = new Map<string, number>();
  private waiting: { id: string; resolve: () => void } | undefined;

  /** The job's hook: `dispatchedAt` is the performance.now() taken just before the push call. */
  readonly record = (id: string, dispatchedAt: number): void => {
    this.latency.set(id, performance.now() - dispatchedAt);
    this.ran.push(id);
    if (this.waiting?.id === id) this.waiting.resolve();
  };

  async of(id: string, timeoutMs = 10_000): Promise<number> {
    if (!this.latency.has(id)) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve, reject) => {
        this.waiting = { id, resolve };
        timer = setTimeout(() => reject(new BenchFailure(`pick-up latency: job ${id} did not start within ${timeoutMs} ms`)), timeoutMs);
      }).finally(() => {
        clearTimeout(timer);
        this.waiting = undefined;
      });
    }
    return this.latency.get(id)!;
  }
}

export interface LatencyPlan {
  samples: number;
  warmup: number;
  /** Pause between one job starting and the next push, so the worker is idle and blocked again. */
  gapMs: number;
}

/**
 * `push(dispatchedAt, i)` stores one job whose data carries `dispatchedAt` and returns its id.
 * Returns the latencies (ms) of the samples after the warm-up; checks every job ran exactly once.
 */
export async function sampleLatency(label: string, pickups: Pickups, plan: LatencyPlan, push: (dispatchedAt: number, i: number) => Promise<string>): Promise<number[]> {
  const pushed: string[] = [];
  const samples: number[] = [];
  for (let i = 0; i < plan.warmup + plan.samples; i++) {
    await delay(plan.gapMs);
    const id = await push(performance.now(), i);
    pushed.push(id);
    const ms = await pickups.of(id);
    if (i >= plan.warmup) samples.push(ms);
  }
  verifyExactlyOnce(label, pushed, pickups.ran);
  return samples;
}
