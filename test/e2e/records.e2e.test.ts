/**
 * Job records through the CLI, on every backend: what became of a job (show, list), its result
 * (wait), cancel of a waiting job (it never runs) and of a running one (its signal aborts), clean.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { e2eBackends, records, run, runOk, start, untilRecords, type TestEnv } from '../helpers/cli.ts';

async function dispatch(t: TestEnv, job: string, data: Record<string, unknown> = {}, ...flags: string[]): Promise<string> {
  return (await runOk(['dispatch', job, '--data', JSON.stringify(data), ...flags], t)).stdout.trim();
}

async function show(t: TestEnv, id: string): Promise<Record<string, any>> {
  return JSON.parse((await runOk(['show', id, '--json'], t)).stdout);
}

const EXPECTED_RESULT = { rows: 7, total: '12345678901234567890n', at: '2026-12-01T08:00:00.000Z', byRegion: { eu: 2, us: 1 } };

for (const backend of await e2eBackends()) {
  describe(`job records through the CLI (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('a done job is shown completed with its result and progress, listed, and waited for', async () => {
      const t = backend.env();
      const id = await dispatch(t, 'Report', { rows: 7 });
      const ready = await show(t, id);
      assert.equal(ready.state, 'ready');
      assert.deepEqual(ready.data, { rows: 7, ms: 0 });
      const waiting = start(['wait', id, '--timeout', '30'], t);
      await runOk(['work', '--stop-when-empty'], t);

      const done = await show(t, id);
      assert.equal(done.state, 'completed');
      assert.equal(done.name, 'Report');
      assert.deepEqual(done.result, EXPECTED_RESULT);
      assert.deepEqual(done.progress, { done: 7, of: 7 });
      assert.equal(done.attempts, 1);
      assert.ok(Date.parse(done.finishedAt) >= Date.parse(done.startedAt));
      const human = (await runOk(['show', id], t)).stdout;
      assert.match(human, /^state: +completed$/m);
      assert.match(human, /"total": "12345678901234567890n"/);

      const waited = await waiting.done;
      assert.equal(waited.code, 0, waited.stderr);
      assert.deepEqual(JSON.parse(waited.stdout), EXPECTED_RESULT, 'wait prints the result as JSON');

      const listed = JSON.parse((await runOk(['list', '--state', 'completed', '--json'], t)).stdout);
      assert.deepEqual(listed.jobs.map((j: { id: string }) => j.id), [id]);
      const statusLine = (await runOk(['status'], t)).stdout;
      assert.match(statusLine, /completed.*cancelled/s);
    });

    it('wait exits 1 with the reason when the job failed, or when the wait times out', async () => {
      const t = backend.env();
      const failing = await dispatch(t, 'AlwaysFails');
      const later = await dispatch(t, 'Report', {}, '--delay', '3600');
      await runOk(['work', '--stop-when-empty'], t);
      const failed = await run(['wait', failing, '--timeout', '10'], t);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, new RegExp(`^error: job ${failing} failed: Error: AlwaysFails: boom$`, 'm'));
      assert.equal(failed.stdout, '');
      const timedOut = await run(['wait', later, '--timeout', '0.5'], t);
      assert.equal(timedOut.code, 1);
      assert.match(timedOut.stderr, new RegExp(`^error: job ${later} is still delayed after 0.5s of waiting$`, 'm'));
      const unknown = await run(['wait', 'no-such-id', '--timeout', '1'], t);
      assert.match(unknown.stderr, /^error: no job with id no-such-id on connection/m);
    });

    it('cancel: a delayed job never runs; a running one has its signal aborted and ends cancelled, not retried', async () => {
      const t = backend.env();
      const delayed = await dispatch(t, 'Report', {}, '--delay', '1');
      const slow = await dispatch(t, 'Report', { ms: 20_000 });
      assert.match((await runOk(['cancel', delayed], t)).stdout, new RegExp(`cancelled ${delayed}`));
      const worker = start(['work', '--sleep', '0.2'], t);
      await untilRecords(t, (lines) => lines.includes(`${slow} 1 start`));
      const asked = Date.now();
      assert.match((await runOk(['cancel', slow], t)).stdout, /cancel requested/);
      await untilRecords(t, (lines) => lines.some((line) => line.startsWith(`${slow} 1 aborted`)), 10_000);
      const tookMs = Date.now() - asked;
      assert.ok(tookMs < 5_000, `the running job's signal aborted within seconds of the cancel (${tookMs} ms)`);

      const waited = await run(['wait', slow, '--timeout', '10'], t);
      assert.equal(waited.code, 1);
      assert.match(waited.stderr, new RegExp(`^error: job ${slow} was cancelled$`, 'm'));
      assert.equal((await show(t, slow)).state, 'cancelled');
      assert.equal((await show(t, delayed)).state, 'cancelled');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      worker.child.kill('SIGTERM');
      const stopped = await worker.done;
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.ok(!records(t).some((line) => line.startsWith(delayed)), 'the cancelled delayed job never ran');
      assert.deepEqual(records(t).filter((line) => line.startsWith(slow)), [`${slow} 1 start`, `${slow} 1 aborted AbortError`], 'ran once: not retried');
      assert.equal((await runOk(['failed:list', '--json'], t)).stdout.trim(), '[]', 'a cancel is not a failure');

      const again = await run(['cancel', slow], t);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /^error: job .* has already finished \(cancelled\): there is nothing to cancel$/m);
      const unknown = await run(['cancel', 'no-such-id'], t);
      assert.match(unknown.stderr, /^error: no job with id no-such-id on connection/);
      assert.equal((await run(['show', 'no-such-id'], t)).code, 1);

      assert.match((await runOk(['clean', 'cancelled'], t)).stdout, /^deleted 2 cancelled job record/);
      assert.equal((await run(['show', slow], t)).code, 1, 'cleaned away');
      const refused = await run(['clean', 'ready'], t);
      assert.match(refused.stderr, /expected a finished state: completed, failed, cancelled, expired, got 'ready'/);
    });
  });
}
