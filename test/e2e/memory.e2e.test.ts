/**
 * A worker that runs for weeks must not grow: RSS after 100,000 trivial jobs stays within 10 MB of
 * its RSS after the first 1,000. Runs on Redis (the fastest backend), one real worker process.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { defineConfig } from '../../src/config/define.ts';
import { QueueManager } from '../../src/queue/manager.ts';
import { deleteRedisPrefix, REDIS_URL, redisBackend, skipReason } from '../helpers/backends.ts';
import { fixtureProject, start, testEnv } from '../helpers/cli.ts';

const TOTAL = 100_000;
const prefix = `memory-${randomUUID()}`;

/** The process's resident memory, or undefined once it has exited. */
function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  } catch {
    return undefined;
  }
}

describe('worker memory', { skip: await skipReason(redisBackend()) }, () => {
  after(() => deleteRedisPrefix(prefix));

  it(`RSS after ${TOTAL.toLocaleString('en')} jobs is within 10 MB of RSS after the first 1,000`, async () => {
    const t = testEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix, QUEUE_LOG_LEVEL: 'warn' });
    const manager = new QueueManager(defineConfig({ default: 'redis', connections: { redis: { driver: 'redis', url: REDIS_URL, prefix } } }), fixtureProject);
    const { default: Noop } = await import(path.join(fixtureProject, 'app/jobs/Noop.ts'));
    for (let pushed = 0; pushed < TOTAL; pushed += 10_000) await manager.push(Array.from({ length: 10_000 }, () => new Noop()));
    const driver = await manager.driver();

    // No --stop-when-empty: the worker must still be there to be measured once the queue is empty.
    // Executed as a process manager does (bin/queue.js itself), so its shebang's flags apply.
    const worker = start(['work', '--concurrency', '10', '--sleep', '0.5'], t, { direct: true });
    const pid = worker.child.pid!;
    // Each figure is the median of five readings 100 ms apart: a single reading can catch the heap
    // mid-collection and be off by more than the limit.
    const median = async (): Promise<number | undefined> => {
      const readings: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const rss = rssMb(pid);
        if (rss === undefined) return undefined;
        readings.push(rss);
        await sleep(100);
      }
      return readings.sort((x, y) => x - y)[2];
    };
    let baseline: number | undefined;
    let final: number | undefined;
    const samples: number[] = [];
    for (let i = 0; i < 6000 && worker.child.exitCode === null; i += 1) {
      const left = await driver.size('default');
      const rss = rssMb(pid);
      if (rss === undefined) break;
      samples.push(rss);
      if (baseline === undefined && TOTAL - left >= 1000) baseline = await median();
      if (left === 0) {
        // "After 100,000 jobs" means the worker as it then stays: give the collector a moment.
        await sleep(2000);
        final = await median();
        break;
      }
      await sleep(100);
    }
    worker.child.kill('SIGTERM');
    const result = await worker.done;
    await manager.close();
    assert.equal(result.code, 0, `the worker ended with ${result.code ?? result.signal}:\n${result.stdout.slice(-2000)}${result.stderr.slice(-2000)}`);
    assert.ok(baseline !== undefined && final !== undefined, 'measured after the first 1,000 jobs and after the last');
    const growth = final - baseline;
    console.log(`# RSS after 1,000 jobs: ${baseline.toFixed(1)} MB; after ${TOTAL.toLocaleString('en')}: ${final.toFixed(1)} MB (max ${Math.max(...samples).toFixed(1)} MB); growth ${growth.toFixed(1)} MB`);
    assert.ok(growth < 10, `RSS grew ${growth.toFixed(1)} MB`);
  });
});
