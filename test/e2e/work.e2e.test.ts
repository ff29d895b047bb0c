/** `queue work` end to end: the real binary, real signals, the SQLite default. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dispatchMany, logLines, records, run, start, testEnv } from '../helpers/cli.ts';

describe('queue work', () => {
  it('--stop-when-empty processes every dispatched job exactly once, then exits 0', async () => {
    const t = testEnv();
    const ids = await dispatchMany(t, 'Record.ts', 60);
    const result = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
    assert.equal(result.code, 0, result.stderr);
    const ran = records(t).map((line) => line.split(' ')[0]);
    assert.deepEqual([...ran].sort(), [...ids].sort());
    const stopped = logLines(result.stdout).find((line) => line.reason);
    assert.equal(stopped?.reason, 'empty');
    assert.equal(stopped?.exitCode, 0);
    const done = logLines(result.stdout).filter((line) => line.outcome === 'done');
    assert.equal(done.length, 60, 'one end line per job');
    assert.ok(done.every((line) => line.jobId && line.job === 'Record' && line.queue === 'default' && line.attempt === 1 && typeof line.ms === 'number'));
  });

  it('--max-jobs 3 exits 0 after exactly three jobs and leaves the rest', async () => {
    const t = testEnv();
    await dispatchMany(t, 'Record.ts', 10);
    const result = await run(['work', '--max-jobs', '3', '--concurrency', '2'], t);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(records(t).length, 3);
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.equal(status.queues[0].ready, 7);
  });

  it('--max-time ends an idle worker with exit 0', async () => {
    const t = testEnv();
    const startedAt = Date.now();
    const result = await run(['work', '--max-time', '1', '--sleep', '0.2'], t);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - startedAt >= 1000);
    assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'max-time');
  });

  it('--once runs one job and exits 0', async () => {
    const t = testEnv();
    await dispatchMany(t, 'Record.ts', 3);
    const result = await run(['work', '--once'], t);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(records(t).length, 1);
  });

  it('--queue is a priority list', async () => {
    const t = testEnv();
    const [low] = await dispatchMany(t, 'Record.ts', 1);
    const manager = await (await import('../helpers/cli.ts')).managerFor(t);
    const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
    const [high] = await manager.push([new Record()], { queue: 'high' });
    await manager.close();
    const result = await run(['work', '--queue', 'high,default', '--stop-when-empty'], t);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(records(t).map((line) => line.split(' ')[0]), [high, low]);
  });

  it('a failing job ends in failed:list after its tries; retry brings it back; forget removes it', async () => {
    const t = testEnv();
    const [id] = await dispatchMany(t, 'AlwaysFails.ts', 1, { reason: 'smtp down' });
    const first = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(records(t), [`${id} 1 attempt`, `${id} 2 attempt`, 'failed-hook AlwaysFails: smtp down']);

    const list = await run(['failed:list', '--json'], t);
    const failed = JSON.parse(list.stdout);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].id, id);
    assert.equal(failed[0].job, 'AlwaysFails');
    assert.match(failed[0].error, /AlwaysFails: smtp down/);
    const table = await run(['failed:list'], t);
    assert.match(table.stdout, new RegExp(id!));
    assert.match(table.stdout, /Error: AlwaysFails: smtp down/);

    const show = await run(['failed:show', id!], t);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /attempts: {3}2/);
    assert.match(show.stdout, /at AlwaysFails\.handle/, 'the full stack');

    const retried = await run(['retry', id!], t);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(JSON.parse((await run(['failed:list', '--json'], t)).stdout).length, 0);
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.equal(status.queues[0].ready, 1);

    const second = await run(['work', '--stop-when-empty', '--sleep', '0.1'], t);
    assert.equal(second.code, 0);
    assert.equal(records(t).filter((line) => line.startsWith(`${id} 1 `)).length, 2, 'fresh tries: attempt 1 again');
    assert.equal(JSON.parse((await run(['failed:list', '--json'], t)).stdout).length, 1);

    const forgot = await run(['failed:forget', id!], t);
    assert.equal(forgot.code, 0);
    assert.equal(JSON.parse((await run(['failed:list', '--json'], t)).stdout).length, 0);
  });

  it('retry all, failed:flush and failed:prune', async () => {
    const t = testEnv();
    await dispatchMany(t, 'AlwaysFails.ts', 3);
    await run(['work', '--stop-when-empty', '--max-tries', '1'], t);
    assert.equal(JSON.parse((await run(['failed:list', '--json'], t)).stdout).length, 3);
    assert.match((await run(['retry', 'all'], t)).stdout, /3 failed job\(s\) put back/);
    await run(['work', '--stop-when-empty'], t);
    assert.match((await run(['failed:prune', '--hours', '1'], t)).stdout, /deleted 0/);
    assert.match((await run(['failed:flush'], t)).stdout, /deleted 3/);
  });

  it('SIGTERM during a job lets it finish, then exits 0', async () => {
    const t = testEnv();
    const [id] = await dispatchMany(t, 'Slow.ts', 1, { ms: 1500 });
    const worker = start(['work'], t);
    await worker.waitFor('"msg":"started"');
    worker.child.kill('SIGTERM');
    const result = await worker.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(records(t), [`${id} 1 start`, `${id} 1 end`]);
    assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'signal');
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.deepEqual(status.queues, [], 'the finished job was acknowledged');
  });

  it('a second SIGINT hands the in-flight job back at once', async () => {
    const t = testEnv();
    const [id] = await dispatchMany(t, 'Slow.ts', 1, { ms: 20_000 });
    const worker = start(['work'], t);
    await worker.waitFor('"msg":"started"');
    worker.child.kill('SIGINT');
    await worker.waitFor('SIGINT received');
    worker.child.kill('SIGINT');
    const result = await worker.done;
    assert.equal(result.code, 130);
    assert.deepEqual(records(t), [`${id} 1 start`]);
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.equal(status.queues[0].ready, 1, 'handed back, ready for another worker');
  });

  it('queue restart stops a running worker with exit 0', async () => {
    const t = testEnv();
    const worker = start(['work', '--sleep', '0.2'], t);
    await worker.waitFor('worker started');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const restart = await run(['restart'], t);
    assert.equal(restart.code, 0, restart.stderr);
    const result = await worker.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'restart');
    // A restart requested before a worker starts does not stop the new one.
    const next = await run(['work', '--max-time', '1.5', '--sleep', '0.2'], t);
    assert.equal(logLines(next.stdout).find((line) => line.reason)?.reason, 'max-time');
  });

  it('pause and resume: a paused queue is skipped', async () => {
    const t = testEnv();
    await dispatchMany(t, 'Record.ts', 2);
    await run(['pause', 'default'], t);
    const paused = await run(['work', '--max-time', '1.5', '--sleep', '0.2'], t);
    assert.equal(paused.code, 0);
    assert.equal(records(t).length, 0);
    assert.match((await run(['status'], t)).stdout, /default \(paused\)/);
    await run(['resume', 'default'], t);
    await run(['work', '--stop-when-empty'], t);
    assert.equal(records(t).length, 2);
  });

  it('dispatch, jobs, clear and make:job from the shell', async () => {
    const t = testEnv();
    const dispatched = await run(['dispatch', 'Record', '--data', '{"label":"from-shell"}', '--queue', 'shell'], t);
    assert.equal(dispatched.code, 0, dispatched.stderr);
    const id = dispatched.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    await run(['dispatch', 'custom-name', '--delay', '60'], t);
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.deepEqual(status.queues.map((q: { queue: string; ready: number; delayed: number }) => [q.queue, q.ready, q.delayed]), [['default', 0, 1], ['shell', 1, 0]]);
    await run(['work', '--queue', 'shell', '--stop-when-empty'], t);
    assert.deepEqual(records(t), [`${id} 1 from-shell`]);
    assert.match((await run(['clear', 'default', '--force'], t)).stdout, /deleted 1 job/);

    const jobs = await run(['jobs', '--json'], t);
    assert.deepEqual(JSON.parse(jobs.stdout).map((j: { name: string }) => j.name).sort(), ['AlwaysFails', 'Hang', 'Record', 'Sleepy', 'Slow', 'custom-name']);
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

  it('migrate is idempotent', async () => {
    const t = testEnv();
    const first = await run(['migrate'], t);
    assert.equal(first.code, 0, first.stderr);
    const second = await run(['migrate'], t);
    assert.equal(second.code, 0);
    assert.match(second.stdout, /up to date/);
  });
});
