/**
 * Priorities, unique jobs and expiry through the CLI and a real worker, on every backend: the order
 * a worker runs jobs in, a unique job dispatched twice runs once, and a job not started in time
 * never runs and is shown expired.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { e2eBackends, records, run, runOk, type TestEnv } from '../helpers/cli.ts';

async function dispatch(t: TestEnv, job: string, data: Record<string, unknown> = {}, ...flags: string[]): Promise<{ id: string; stderr: string }> {
  const { stdout, stderr } = await runOk(['dispatch', job, '--data', JSON.stringify(data), ...flags], t);
  return { id: stdout.trim(), stderr };
}

async function show(t: TestEnv, id: string): Promise<Record<string, any>> {
  return JSON.parse((await runOk(['show', id, '--json'], t)).stdout);
}

for (const backend of await e2eBackends()) {
  describe(`priorities, unique jobs and expiry through the CLI (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('a worker runs higher priorities first, FIFO within one; show says the priority', async () => {
      const t = backend.env();
      const plan: [string, string[]][] = [['a', []], ['b', ['--priority', '5']], ['c', ['--priority', '-1']], ['d', ['--priority', '5']], ['e', []]];
      const ids = new Map<string, string>();
      for (const [label, flags] of plan) ids.set(label, (await dispatch(t, 'Record', { label }, ...flags)).id);
      assert.match((await runOk(['show', ids.get('b')!], t)).stdout, /^priority: +5$/m);
      assert.doesNotMatch((await runOk(['show', ids.get('a')!], t)).stdout, /^priority:/m);
      await runOk(['work', '--stop-when-empty', '--concurrency', '1'], t);
      assert.deepEqual(records(t).map((line) => line.split(' ')[2]), ['b', 'd', 'a', 'e', 'c']);

      const bad = await run(['dispatch', 'Record', '--priority', '1.5'], t);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /option '--priority <n>' argument '1.5' is invalid. expected a whole number from -1000000 to 1000000/);
    });

    it('a unique job dispatched twice is stored once: the second prints the holder and says so; once done, the key is free', async () => {
      const t = backend.env();
      const first = await dispatch(t, 'Digest', { list: 'all', label: 'one' });
      assert.equal(first.stderr, '');
      const second = await dispatch(t, 'Digest', { list: 'all', label: 'two' });
      assert.equal(second.id, first.id, 'the duplicate prints the holder\'s id');
      assert.equal(second.stderr.trim(), `not stored: job ${first.id} holds the unique key of this Digest`);
      const otherList = await dispatch(t, 'Digest', { list: 'vip' });
      assert.notEqual(otherList.id, first.id);
      await runOk(['work', '--stop-when-empty'], t);
      assert.deepEqual(records(t).map((line) => line.split(' ').slice(2).join(' ').trim()).sort(), ['digest all one', 'digest vip']);
      const third = await dispatch(t, 'Digest', { list: 'all', label: 'three' });
      assert.notEqual(third.id, first.id, 'the holder completed: the key is free again');
      assert.equal(third.stderr, '');
    });

    it('a job not started within its expireAfter never runs and is shown and listed expired', async () => {
      const t = backend.env();
      const late = await dispatch(t, 'Fleeting');
      // Fleeting expires 3 s after it may first run: the first is past it when a worker starts; the
      // delayed one is not due yet, and then has 3 s in which a worker takes it (slack for a loaded machine).
      const delayed = await dispatch(t, 'Fleeting', {}, '--delay', '3.5');
      await sleep(3_300);
      await runOk(['work', '--stop-when-empty'], t);
      assert.equal((await show(t, late.id)).state, 'expired');
      assert.ok(Date.parse((await show(t, late.id)).finishedAt) > 0);
      await sleep(700);
      await runOk(['work', '--stop-when-empty'], t);
      assert.deepEqual(records(t), [`${delayed.id} 1 fleeting`], 'expireAfter counts from when the job may first run: the delayed one ran');
      const listed = JSON.parse((await runOk(['list', '--state', 'expired', '--json'], t)).stdout);
      assert.deepEqual(listed.jobs.map((j: { id: string }) => j.id), [late.id]);
      const waited = await run(['wait', late.id, '--timeout', '5'], t);
      assert.equal(waited.code, 1);
      assert.match(waited.stderr, new RegExp(`^error: job ${late.id} expired`, 'm'));
    });
  });
}
