/** Flags versus job settings, timeouts and the memory limit, through the real worker, on every backend. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { dispatchMany, e2eBackends, failedList, logLines, records, run, runOk, stopReasonOf } from '../helpers/cli.ts';

for (const backend of await e2eBackends()) {
  describe(`worker settings (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('--timeout applies to a job that declares none; a declared timeout wins over the flag', async () => {
      const t = backend.env();
      const [undeclared] = await dispatchMany(t, 'Sleepy.ts', 1, { ms: 3000 });
      const [declared] = await dispatchMany(t, 'Slow.ts', 1, { ms: 1000 });
      const result = await run(['work', '--stop-when-empty', '--timeout', '0.3', '--max-tries', '1'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(records(t).includes(`${declared} 1 end`), 'Slow (timeout 30) finished its 1s under --timeout 0.3');
      assert.ok(!records(t).includes(`${undeclared} 1 end`), 'Sleepy was stopped at 0.3s');
      const [failed] = await failedList(t);
      assert.equal(failed?.id, undeclared);
      assert.match(failed!.error, /JobTimeoutError: job timed out after 0.3s/);
    });

    it('--max-tries and --backoff apply to a job that declares none', async () => {
      const t = backend.env();
      const [id] = await dispatchMany(t, 'Sleepy.ts', 1, { ms: 2000 });
      const result = await run(['work', '--stop-when-empty', '--timeout', '0.2', '--max-tries', '2', '--backoff', '0.5', '--sleep', '0.1'], t);
      assert.equal(result.code, 0, result.stderr);
      const released = logLines(result.stdout).find((line) => line.outcome === 'released');
      assert.equal(released?.retryIn, 0.5);
      // --stop-when-empty stops while the job waits out its backoff; a second run finishes it.
      await new Promise((resolve) => setTimeout(resolve, 600));
      await runOk(['work', '--stop-when-empty', '--timeout', '0.2', '--max-tries', '2'], t);
      assert.deepEqual(records(t), [`${id} 1 start`, `${id} 2 start`]);
      assert.equal((await failedList(t))[0]?.id, id);
    });

    it('a job that ignores its timeout is recorded as timed out and the worker exits 3', async () => {
      const t = backend.env();
      const [hung] = await dispatchMany(t, 'Hang.ts', 1);
      const started = Date.now();
      const result = await run(['work', '--stop-when-empty'], t);
      assert.equal(result.code, 3, result.stdout + result.stderr);
      assert.ok(Date.now() - started < 15_000, 'within a few seconds of its timeout');
      assert.equal(stopReasonOf(result), 'hung-job');
      const [failed] = await failedList(t);
      assert.equal(failed?.id, hung);
      assert.match(failed!.error, /timed out after 0.5s/);
    });

    it('--memory: a worker over the limit exits 12', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 1);
      const result = await run(['work', '--memory', '1'], t);
      assert.equal(result.code, 12);
      assert.match(logLines(result.stdout).find((line) => line.reason)?.msg as string, /over the --memory limit of 1 MB \(exit 12\)/);
      assert.equal(records(t).length, 0, 'it stops before taking a job');
    });
  });
}
