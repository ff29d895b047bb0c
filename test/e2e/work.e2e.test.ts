/** `queue work` and the other commands end to end: the real binary, real signals, on every backend. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { dispatchMany, e2eBackends, failedList, fixtureProject, logLines, managerFor, ranIds, records, run, runOk, start, status, stopReasonOf, untilRecords, workerOnSlowJob } from '../helpers/cli.ts';

/** Job names by file under `folder` of the fixture's app/jobs (top level, or one subfolder). */
const jobsIn = (folder: string) => readdirSync(path.join(fixtureProject, 'app/jobs', folder))
  .filter((file) => file.endsWith('.ts') && !file.startsWith('_'))
  .map((file) => path.posix.join(folder, file.slice(0, -'.ts'.length)));

/** The job names the registry should find in the fixture project: every job file, and nested/Named's jobName. */
const fixtureJobs = [...jobsIn(''), ...jobsIn('misbehaves'), 'custom-name'].sort();

for (const backend of await e2eBackends()) {
  describe(`queue work (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('--stop-when-empty processes every dispatched job exactly once, then exits 0', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Record.ts', 60);
      const result = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual([...ranIds(t)].sort(), [...ids].sort());
      const stopped = logLines(result.stdout).find((line) => line.reason);
      assert.equal(stopped?.reason, 'empty');
      assert.equal(stopped?.exitCode, 0);
      const done = logLines(result.stdout).filter((line) => line.outcome === 'done');
      assert.equal(done.length, 60, 'one end line per job');
      assert.ok(done.every((line) => line.jobId && line.job === 'Record' && line.queue === 'default' && line.attempt === 1 && typeof line.ms === 'number'));
    });

    it('--max-jobs 3 exits 0 after exactly three jobs and leaves the rest', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 10);
      const result = await run(['work', '--max-jobs', '3', '--concurrency', '2'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(records(t).length, 3);
      assert.equal((await status(t)).queues[0]?.ready, 7);
    });

    it('--max-jobs with --prefetch starts no job beyond its budget: exactly that many run, nothing stays leased', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 400);
      const result = await run(['work', '--max-jobs', '150', '--prefetch', '100'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(records(t).length, 150);
      const left = (await status(t)).queues[0];
      assert.deepEqual([left?.ready, left?.reserved ?? 0], [250, 0]);
    });

    it('--max-time ends an idle worker with exit 0', async () => {
      const t = backend.env();
      const startedAt = Date.now();
      const result = await run(['work', '--max-time', '1', '--sleep', '0.2'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Date.now() - startedAt >= 1000);
      assert.equal(stopReasonOf(result), 'max-time');
    });

    it('--once runs one job and exits 0', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 3);
      const result = await run(['work', '--once'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(records(t).length, 1);
    });

    it('--queue is a priority list', async () => {
      const t = backend.env();
      const [low] = await dispatchMany(t, 'Record.ts', 1);
      const manager = await managerFor(t);
      const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
      const high = (await manager.push([new Record()], { queue: 'high' }))[0]!.id;
      await manager.close();
      const result = await run(['work', '--queue', 'high,default', '--stop-when-empty'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ranIds(t), [high, low]);
    });

    it('a failing job ends in failed:list after its tries; retry brings it back; forget removes it', async () => {
      const t = backend.env();
      const [id] = await dispatchMany(t, 'AlwaysFails.ts', 1, { reason: 'smtp down' });
      const first = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(records(t), [`${id} 1 attempt`, `${id} 2 attempt`, 'failed-hook AlwaysFails: smtp down']);

      const failed = await failedList(t);
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.id, id);
      assert.equal(failed[0]!.job, 'AlwaysFails');
      assert.equal(failed[0]!.connection, backend.connection);
      assert.match(failed[0]!.error, /AlwaysFails: smtp down/);
      const table = await run(['failed:list'], t);
      assert.match(table.stdout, new RegExp(id!));
      assert.match(table.stdout, /Error: AlwaysFails: smtp down/);

      const show = await run(['failed:show', id!], t);
      assert.equal(show.code, 0);
      assert.match(show.stdout, /attempts: {3}2/);
      assert.match(show.stdout, /at AlwaysFails\.handle/, 'the full stack');

      const retried = await run(['retry', id!], t);
      assert.equal(retried.code, 0, retried.stderr);
      assert.equal((await failedList(t)).length, 0);
      assert.equal((await status(t)).queues[0]?.ready, 1);

      const second = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
      assert.equal(second.code, 0);
      assert.equal(records(t).filter((line) => line.startsWith(`${id} 1 `)).length, 2, 'fresh tries: attempt 1 again');
      assert.equal((await failedList(t)).length, 1);

      const forgot = await run(['failed:forget', id!], t);
      assert.equal(forgot.code, 0);
      assert.equal((await failedList(t)).length, 0);
    });

    it('retry all, failed:flush and failed:prune', async () => {
      const t = backend.env();
      await dispatchMany(t, 'AlwaysFails.ts', 3);
      await runOk(['work', '--stop-when-empty', '--max-tries', '1'], t);
      assert.equal((await failedList(t)).length, 3);
      assert.match((await runOk(['retry', 'all', '--force'], t)).stdout, /3 failed job\(s\) put back/);
      await runOk(['work', '--stop-when-empty'], t);
      assert.match((await runOk(['failed:prune', '--hours', '1'], t)).stdout, /deleted 0/);
      assert.match((await runOk(['failed:flush', '--force'], t)).stdout, /deleted 3/);
    });

    it('clear, failed:flush and retry all refuse without --force where no terminal can ask, and change nothing', async () => {
      const t = backend.env();
      const [failing] = await dispatchMany(t, 'AlwaysFails.ts', 1);
      await runOk(['work', '--stop-when-empty', '--max-tries', '1'], t);
      await dispatchMany(t, 'Noop.ts', 2);
      const before = await status(t);
      for (const [args, what] of [
        [['clear', 'default'], "queue clear deletes every job waiting on queue 'default'"],
        [['failed:flush'], 'queue failed:flush deletes every failed job record'],
        [['retry', 'all'], 'queue retry all puts every failed job back to run again'],
      ] as const) {
        // The test runner gives the command no terminal: stdin is /dev/null.
        const refused = await run([...args], t);
        assert.equal(refused.code, 1, refused.stdout);
        assert.equal(refused.stderr, `error: ${what} (connection ${backend.connection}), and there is no terminal to ask: add --force to run it from a script; nothing was changed\n`);
      }
      assert.deepEqual(await status(t), before);
      assert.deepEqual((await failedList(t)).map((record) => record.id), [failing]);
    });

    it('SIGTERM during a job lets it finish, then exits 0', async () => {
      const t = backend.env();
      const { id, worker } = await workerOnSlowJob(t, 1500);
      worker.child.kill('SIGTERM');
      const result = await worker.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(records(t), [`${id} 1 start`, `${id} 1 end`]);
      assert.equal(stopReasonOf(result), 'signal');
      assert.deepEqual((await status(t)).queues.map((q) => [q.ready, q.delayed, q.reserved, q.completed]), [[0, 0, 0, 1]], 'the finished job was acknowledged, its record kept');
    });

    it('SIGTERM while many quick jobs wait: nothing stays leased, and the next worker runs the rest once', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Record.ts', 1500);
      const worker = start(['work', '--concurrency', '4'], t);
      await worker.waitFor('"outcome":"done"');
      worker.child.kill('SIGTERM');
      const result = await worker.done;
      assert.equal(result.code, 0, result.stderr);
      const after = (await status(t)).queues[0];
      assert.equal(after?.reserved ?? 0, 0, 'jobs taken ahead were given back');
      const ranFirst = ranIds(t).length;
      assert.ok(ranFirst > 0 && ranFirst < ids.length, `the worker stopped part-way (${ranFirst} ran)`);
      assert.equal(after?.ready, ids.length - ranFirst, 'every job not run is ready again');
      assert.equal(await run(['work', '--stop-when-empty'], t).then((r) => r.code), 0);
      assert.deepEqual([...ranIds(t)].sort(), [...ids].sort(), 'each job ran exactly once over both workers');
    });

    it('--prefetch: SIGTERM gives back the jobs started ahead with their tries refunded; the next worker runs them once, on their first try', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Record.ts', 3000);
      const worker = start(['work', '--prefetch', '300'], t);
      await untilRecords(t, (lines) => lines.length >= 300);
      worker.child.kill('SIGTERM');
      const result = await worker.done;
      assert.equal(result.code, 0, result.stderr);
      const after = (await status(t)).queues[0];
      assert.equal(after?.reserved ?? 0, 0, 'nothing stays started or held');
      const ranFirst = ranIds(t).length;
      assert.ok(ranFirst < ids.length, `the worker stopped part-way (${ranFirst} ran)`);
      assert.equal(after?.ready, ids.length - ranFirst, 'every job not run is ready again');
      assert.equal(await run(['work', '--stop-when-empty', '--prefetch', '300'], t).then((r) => r.code), 0);
      assert.deepEqual([...ranIds(t)].sort(), [...ids].sort(), 'each job ran exactly once over both workers');
      assert.ok(records(t).every((line) => line.split(' ')[1] === '1'), 'each on its first try');
    });

    it('--prefetch: a worker SIGKILLed with jobs started ahead loses none of them: they run after their lease', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Record.ts', 3000);
      const worker = start(['work', '--prefetch', '300', '--timeout', '1'], t);
      await untilRecords(t, (lines) => lines.length >= 300);
      worker.child.kill('SIGKILL');
      await worker.done;
      // A started job's lease is its timeout and the fixture's lease margin: 2 s.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const second = await run(['work', '--stop-when-empty', '--prefetch', '300'], t);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual([...new Set(ranIds(t))].sort(), [...ids].sort(), 'every job ran');
      assert.deepEqual(await failedList(t), [], 'none failed');
      const left = (await status(t)).queues[0];
      assert.deepEqual([left?.ready ?? 0, left?.delayed ?? 0, left?.reserved ?? 0], [0, 0, 0], 'nothing left waiting or leased');
    });

    it('a second SIGINT hands the in-flight job back at once', async () => {
      const t = backend.env();
      const { id, worker } = await workerOnSlowJob(t, 20_000);
      worker.child.kill('SIGINT');
      await worker.waitFor('SIGINT received');
      worker.child.kill('SIGINT');
      const result = await worker.done;
      assert.equal(result.code, 130);
      assert.deepEqual(records(t), [`${id} 1 start`]);
      assert.equal((await status(t)).queues[0]?.ready, 1, 'handed back, ready for another worker');
    });

    it('queue restart stops a running worker with exit 0', async () => {
      const t = backend.env();
      const worker = start(['work', '--sleep', '0.2'], t);
      await worker.waitFor('worker started');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const restart = await run(['restart'], t);
      assert.equal(restart.code, 0, restart.stderr);
      const result = await worker.done;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(stopReasonOf(result), 'restart');
      assert.equal(typeof (await status(t)).restartRequestedAt, 'number');
      // A restart requested before a worker starts does not stop the new one.
      const next = await run(['work', '--max-time', '1.5', '--sleep', '0.2'], t);
      assert.equal(stopReasonOf(next), 'max-time');
    });

    it('pause and resume: a paused queue is skipped', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 2);
      await runOk(['pause', 'default'], t);
      const paused = await run(['work', '--max-time', '1.5', '--sleep', '0.2'], t);
      assert.equal(paused.code, 0);
      assert.equal(records(t).length, 0);
      assert.match((await run(['status'], t)).stdout, /default \(paused\)/);
      await runOk(['resume', 'default'], t);
      await runOk(['work', '--stop-when-empty'], t);
      assert.equal(records(t).length, 2);
    });

    it('dispatch, jobs, clear and make:job from the shell', async () => {
      const t = backend.env();
      const dispatched = await run(['dispatch', 'Record', '--data', '{"label":"from-shell"}', '--queue', 'shell'], t);
      assert.equal(dispatched.code, 0, dispatched.stderr);
      const id = dispatched.stdout.trim();
      assert.match(id, /^[0-9a-f-]{36}$/);
      await runOk(['dispatch', 'custom-name', '--delay', '60'], t);
      const before = await status(t);
      assert.equal(before.connection, backend.connection);
      assert.deepEqual(before.queues.map((q) => [q.queue, q.ready, q.delayed]), [['default', 0, 1], ['shell', 1, 0]]);
      await runOk(['work', '--queue', 'shell', '--stop-when-empty'], t);
      assert.deepEqual(records(t), [`${id} 1 from-shell`]);
      assert.match((await runOk(['clear', 'default', '--force'], t)).stdout, /deleted 1 job/);

      const jobs = await run(['jobs', '--json'], t);
      assert.deepEqual(JSON.parse(jobs.stdout).map((j: { name: string }) => j.name).sort(), fixtureJobs);
      assert.match(jobs.stderr, /skipped app\/jobs\/README\.md/);

      const made = await run(['make:job', 'billing/ChargeCard'], t, { cwd: t.dir });
      assert.equal(made.code, 0, made.stderr);
      const source = readFileSync(path.join(t.dir, 'app/jobs/billing/ChargeCard.ts'), 'utf8');
      assert.match(source, /export default class ChargeCard extends Job/);
      const again = await run(['make:job', 'billing/ChargeCard'], t, { cwd: t.dir });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already exists/);
      assert.match((await run(['make:job', 'not a name'], t, { cwd: t.dir })).stderr, /is not a job name/);
    });

    it("a queue named with ':', braces, a space and a non-ASCII letter works in every command", async () => {
      const t = backend.env();
      const queue = 'mail:{eu} é';
      const ok = (args: string[]) => runOk(args, t);
      const id = (await ok(['dispatch', 'Record', '--queue', queue, '--data', '{"label":"odd-queue"}'])).stdout.trim();
      const failing = (await ok(['dispatch', 'AlwaysFails', '--queue', queue])).stdout.trim();
      await ok(['pause', queue]);
      const paused = await status(t);
      assert.deepEqual(paused.queues.map((q) => [q.queue, q.ready, q.paused]), [[queue, 2, true]]);
      assert.deepEqual(paused.paused, [queue]);
      await ok(['resume', queue]);

      // AlwaysFails declares maxTries 2 (the class wins over --max-tries) and backoff 0. --max-time
      // bounds the run should the queue still be paused.
      const worked = await ok(['work', '--queue', queue, '--stop-when-empty', '--max-tries', '1', '--max-time', '10']);
      assert.deepEqual(records(t), [`${id} 1 odd-queue`, `${failing} 1 attempt`, `${failing} 2 attempt`, 'failed-hook AlwaysFails: boom']);
      const jobLines = logLines(worked.stdout).filter((line) => line.jobId);
      assert.ok(jobLines.length >= 4 && jobLines.every((line) => line.queue === queue), 'every job line names the queue');

      const failed = await failedList(t, '--queue', queue);
      assert.deepEqual(failed.map((f) => [f.id, f.queue, f.job]), [[failing, queue, 'AlwaysFails']]);

      assert.match((await ok(['retry', 'all', '--queue', queue, '--force'])).stdout, /1 failed job\(s\) put back/);
      assert.deepEqual((await status(t)).queues.map((q) => [q.queue, q.ready, q.failed]), [[queue, 1, 0]]);
      assert.match((await ok(['clear', queue, '--force'])).stdout, /deleted 1 job\(s\) from mail:\{eu\} é/);
    });

    it('migrate is idempotent (Redis keeps no tables)', async () => {
      const t = backend.env();
      const first = await run(['migrate'], t);
      assert.equal(first.code, 0, first.stderr);
      const second = await run(['migrate'], t);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, backend.name === 'redis' ? /connection 'redis' keeps no tables: nothing to migrate/ : /up to date/);
    });
  });
}
