/**
 * An idle `queue work` with its default settings, on each SQL backend, starts a job dispatched to
 * it well within what the 3 s `--sleep` between empty claims used to cost (PostgreSQL hears the
 * push, SQLite is told of each write to its log, MariaDB looks again every 50 to 150 ms), and idles
 * on little CPU meanwhile. The bounds are loose; the bench (`npm run bench`, the pick-up rows) has
 * the real figures.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { JobClass } from '../../src/jobs/Job.ts';
import { e2eBackends, fixtureProject, managerFor, records, start, untilRecords } from '../helpers/cli.ts';

/** Linux's clock ticks per second (USER_HZ), the unit of utime and stime in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

/** CPU time (user and system, every thread) of process `pid` over `ms`, in percent of one core. */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const before = ticks();
  const began = performance.now();
  await sleep(ms);
  return ((ticks() - before) / TICKS_PER_SECOND / ((performance.now() - began) / 1000)) * 100;
}

for (const backend of (await e2eBackends()).filter((b) => b.name !== 'redis')) {
  describe(`an idle worker picks up a new job: ${backend.name}`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('within a second of its dispatch, with the default settings; idle, it uses little CPU', async () => {
      const t = backend.env();
      const worker = start(['work'], t);
      const manager = await managerFor(t);
      try {
        const { default: Record } = (await import(path.join(fixtureProject, 'app/jobs/Record.ts'))) as { default: JobClass };
        await worker.waitFor('worker started');
        // Idle for a while first: a worker looks less often the longer it has found nothing.
        await sleep(1_500);
        const cpu = await cpuPercent(worker.child.pid!, 5_000);
        assert.ok(cpu < 5, `the idle worker used ${cpu.toFixed(2)}% of a core over 5 s`);

        const pickups: number[] = [];
        for (let i = 1; i <= 3; i++) {
          await sleep(500);
          const dispatchedAt = Date.now();
          await manager.push([new Record()]);
          await untilRecords(t, (lines) => lines.length === i, 10_000);
          // Record writes its line as it starts: the file's last change is the job's start.
          pickups.push(statSync(t.recordFile).mtimeMs - dispatchedAt);
        }
        assert.equal(records(t).length, 3);
        assert.ok(pickups.every((ms) => ms < 1_000), `dispatch to start: ${pickups.map((ms) => `${Math.round(ms)} ms`).join(', ')} (each within a second)`);
      } finally {
        await manager.close();
        worker.child.kill('SIGTERM');
        assert.equal((await worker.done).code, 0);
      }
    });
  });
}
