/**
 * Every worker prunes finished records past their keep on a timer (SPEC 11: never only when traffic
 * arrives). Each prune is atomic on its backend and touches finished records only, so many workers
 * pruning at once is safe; the count kept per queue is the largest the connection or any job class
 * asks for, so no class's records are cut short by another's.
 */
import type { Logger } from 'pino';
import type { Driver } from '../contract/driver.ts';
import type { JobClass } from '../jobs/Job.ts';
import type { JobRegistry } from '../jobs/registry.ts';
import { DEFAULT_KEEP, type Retention } from '../jobs/settings.ts';

const PRUNE_MS = 15_000;

/**
 * Starts pruning (and the end, kept `expiredKeepMs`, of waiting jobs past their expiry that no
 * claim reached); returns the function that stops it.
 */
export function startPruning(driver: Driver, registry: JobRegistry, retention: (jobClass: JobClass) => Retention | null, expiredKeepMs: number, log: Logger): () => void {
  const counts = registry.all().map((job) => countOf(() => retention(job.jobClass)));
  const maxPerQueue = Math.max(DEFAULT_KEEP.count, ...counts.filter((n): n is number => n !== undefined));
  let pruning = false;
  const prune = async () => {
    if (pruning) return;
    pruning = true;
    try {
      const pruned = await driver.records.prune({ maxPerQueue, keepMs: expiredKeepMs });
      if (pruned > 0) log.debug({ pruned }, `pruned ${pruned} finished job records`);
    } catch (error) {
      // An outage is reported by the worker's loop; the next prune catches up.
      log.debug({ err: (error as Error).message }, `could not prune job records: ${(error as Error).message}`);
    } finally {
      pruning = false;
    }
  };
  const timer = setInterval(() => void prune(), PRUNE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** A class's count, or undefined when its `keep` is false or wrong (a wrong one is said when its job is done). */
function countOf(read: () => Retention | null): number | undefined {
  try {
    return read()?.maxPerQueue;
  } catch {
    return undefined;
  }
}
