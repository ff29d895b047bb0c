/**
 * Job code that misbehaves: a promise rejected and never awaited, an exception thrown in a timer
 * callback, a thrown value that cannot be printed, process.exit(). Node would end the process on the
 * first two, taking every job in flight with it; the worker fails the job that caused it with its
 * error and goes on. On SQLite and Redis (the worker is the same on every backend).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { dispatchMany, e2eBackends, failedList, records, run, type TestEnv } from '../helpers/cli.ts';

/** On Node 24 every job runs in a traced async scope from the start; before, once an error could not be tied to a job otherwise. */
const tracedFromStart = Number(process.versions.node.split('.')[0]) >= 24;

/** Dispatches one job of `file` per ref, with `fields`; returns ref -> job id. */
async function dispatchRefs(t: TestEnv, file: string, refs: string[], fields: Record<string, unknown> = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const ref of refs) ids.set(ref, (await dispatchMany(t, file, 1, { ...fields, ref }))[0]!);
  return ids;
}

for (const backend of (await e2eBackends()).filter((b) => b.name === 'sqlite' || b.name === 'redis')) {
  describe(`misbehaving jobs (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('each misbehaving job fails with its own error and its failed() hook runs, while good jobs run beside it', async () => {
      const t = backend.env();
      const good = await dispatchMany(t, 'Record.ts', 10, { label: 'good' });
      const bad = new Map<string, string>();
      const reasons: [string, string, RegExp][] = [
        ['misbehaves/RejectsUnawaited.ts', 'rejects', /^Error: RejectsUnawaited: a promise nobody awaited\n\s+at /],
        ['misbehaves/ThrowsInTimer.ts', 'timer', /^Error: ThrowsInTimer: thrown in a timer\n\s+at /],
        ['misbehaves/ThrowsUnprintable.ts', 'unprintable', /^Error: non-Error thrown: \[object Object\]/],
      ];
      for (const [file, ref] of reasons) {
        for (const [k, id] of await dispatchRefs(t, file, [ref])) bad.set(k, id);
        good.push(...(await dispatchMany(t, 'Record.ts', 10, { label: 'good' })));
      }
      const result = await run(['work', '--stop-when-empty', '--concurrency', '4', '--sleep', '0.2'], t);
      assert.equal(result.code, 0, `the worker carried on and stopped cleanly:\n${result.stdout.slice(-2000)}${result.stderr}`);
      assert.equal(result.stderr, '', 'no crash trace');
      const ran = records(t).filter((line) => line.endsWith(' good')).map((line) => line.split(' ')[0]);
      assert.deepEqual(new Set(ran), new Set(good), 'every good job ran');
      const failed = await failedList(t);
      for (const [, ref, reason] of reasons) {
        const record = failed.find((f) => f.id === bad.get(ref));
        assert.ok(record, `the ${ref} job has a failed record`);
        assert.match(record.error, reason, `${ref}: the job's own error is the reason`);
        assert.equal(records(t).filter((line) => line.startsWith(`failed-hook ${ref} `)).length, 1, `failed() ran once for the ${ref} job`);
        assert.ok(!records(t).includes(`${ref} end`), `the ${ref} job did not run on to its end as if nothing happened`);
      }
      assert.equal(failed.length, 3);
    });

    it('jobs of one class misbehaving side by side: each error is tied to its job, or logged and traced from then on', async () => {
      const t = backend.env();
      const refs = Array.from({ length: 12 }, (_, i) => `r${i}`);
      const ids = await dispatchRefs(t, 'misbehaves/RejectsUnawaited.ts', refs, { ms: 200 });
      const result = await run(['work', '--stop-when-empty', '--concurrency', '4', '--sleep', '0.2'], t);
      assert.equal(result.code, 0, result.stderr);
      const failed = new Map((await failedList(t)).map((f) => [f.id, f]));
      const untied = (result.stdout.match(/in no job it could be tied to/g) ?? []).length;
      for (const ref of refs) {
        const failure = failed.get(ids.get(ref)!);
        if (failure) assert.match(failure.error, /RejectsUnawaited: a promise nobody awaited/);
        else assert.ok(records(t).includes(`${ref} end`), `${ref}: neither failed nor ran to its end`);
      }
      assert.equal(failed.size + untied, refs.length, 'every error was tied to its job, or logged');
      if (tracedFromStart) assert.equal(untied, 0, 'traced from the start: every error tied to its job');
      else assert.ok(untied <= 4 && failed.size >= refs.length - 4, `only the jobs already running when tracing began went untied (${untied})`);
    });

    it('a job that calls process.exit(): the worker says so, naming the job, before the process ends', async () => {
      const t = backend.env();
      const [id] = await dispatchMany(t, 'misbehaves/CallsExit.ts', 1);
      const result = await run(['work', '--sleep', '0.2'], t);
      assert.equal(result.code, 0, 'the code the job passed');
      assert.match(result.stdout, new RegExp(`worker stopped: job ${id} called process\\.exit\\(0\\); jobs in flight run again after their leases \\(exit 0\\)`));
    });
  });
}
