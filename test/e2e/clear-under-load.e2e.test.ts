/**
 * `queue clear` while workers drain the queue: it deletes the jobs that wait, never one a worker
 * holds or runs, so no job it counted runs afterwards and no worker finds its job gone.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { dispatchMany, e2eBackends, failedList, records, run, start, trackedRuns } from '../helpers/cli.ts';

for (const backend of await e2eBackends()) {
  describe(`clear under load (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('two workers drain 3,000 jobs while the queue is cleared: exactly the jobs it counted never run', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Tracked.ts', 3000, { ms: 5 });
      const workers = [0, 1].map(() => start(['work', '--concurrency', '4', '--sleep', '0.2'], t));
      while (records(t).length < 200) await sleep(10);
      const cleared = await run(['clear', 'default', '--force'], t);
      assert.equal(cleared.code, 0, cleared.stderr);
      const deleted = Number(/deleted (\d+) job/.exec(cleared.stdout)?.[1]);
      // The workers finish what they held or ran when the clear came, then find nothing.
      for (let seen = -1; seen !== records(t).length; ) {
        seen = records(t).length;
        await sleep(1500);
      }
      for (const worker of workers) worker.child.kill('SIGTERM');
      const results = await Promise.all(workers.map((w) => w.done));
      for (const result of results) assert.equal(result.code, 0, result.stderr);
      const { starts, ends } = trackedRuns(t);
      assert.ok(deleted > 0 && starts.size >= 100, `the clear came mid-run (${deleted} deleted, ${starts.size} ran)`);
      assert.equal(ids.length - starts.size, deleted, 'the jobs that never ran are exactly the ones the clear counted');
      assert.ok([...starts.values()].every((pids) => pids.length === 1), 'no job ran twice');
      assert.equal(ends.size, starts.size, 'every job that started ran to its end');
      for (const result of results) assert.doesNotMatch(result.stdout, /lease was taken over|lost its hold/, 'no worker found its job gone');
      assert.deepEqual(await failedList(t), []);
    });
  });
}
