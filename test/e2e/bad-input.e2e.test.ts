/** Every failure a user can cause: one clear line on stderr, a non-zero exit, nothing changed or lost. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { dispatchMany, records, repoRoot, run, testEnv, type RunResult } from '../helpers/cli.ts';

function assertOneLineError(result: RunResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, 'exit code is non-zero');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace without --verbose');
}

describe('bad input', () => {
  it('bad flag values are refused before anything runs', async () => {
    const t = testEnv();
    await dispatchMany(t, 'Record.ts', 1);
    assertOneLineError(await run(['work', '--sleep', 'abc'], t), /--sleep.*'abc'.*seconds >= 0/);
    assertOneLineError(await run(['work', '--max-jobs', '-1'], t), /--max-jobs.*'-1'.*whole number >= 1/);
    assertOneLineError(await run(['work', '--max-jobs', '2.5'], t), /--max-jobs/);
    assertOneLineError(await run(['work', '--concurrency', '0'], t), /--concurrency/);
    assertOneLineError(await run(['work', '--backoff', '10,x'], t), /--backoff/);
    assertOneLineError(await run(['work', '--queue', 'a,,b'], t), /--queue/);
    assertOneLineError(await run(['work', '--no-such-flag'], t), /unknown option '--no-such-flag'/);
    assertOneLineError(await run(['failed:list', '--limit', 'ten'], t), /--limit/);
    assert.equal(records(t).length, 0, 'no job ran');
  });

  it('unknown command and unknown connection', async () => {
    const t = testEnv();
    assertOneLineError(await run(['wrok'], t), /unknown command 'wrok'/);
    assertOneLineError(await run(['status', '--connection', 'nope'], t), /unknown connection 'nope'.*database, sync/);
    assertOneLineError(await run(['work', '--connection', 'sync'], t), /runs jobs inline/);
  });

  it('unknown job names and malformed --data', async () => {
    const t = testEnv();
    assertOneLineError(await run(['dispatch', 'Nope'], t), /unknown job 'Nope'; known jobs: AlwaysFails, /);
    assertOneLineError(await run(['dispatch', 'Record', '--data', '{"label":'], t), /--data is not valid JSON/);
    assertOneLineError(await run(['dispatch', 'Record', '--data', '[1,2]'], t), /--data must be a JSON object/);
    assertOneLineError(await run(['dispatch', 'Record', '--data', '{"nope":1}'], t), /Record has no field 'nope'; its fields are: label/);
    assertOneLineError(await run(['dispatch', 'Record', '--delay', '-5'], t), /--delay/);
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.deepEqual(status.queues, [], 'nothing was dispatched');
  });

  it('unknown failed ids', async () => {
    const t = testEnv();
    const id = randomUUID();
    assertOneLineError(await run(['failed:show', id], t), new RegExp(`no failed job with id ${id}`));
    assertOneLineError(await run(['failed:forget', id], t), /no failed job with id/);
    assertOneLineError(await run(['retry', id], t), /no failed job with id .*nothing was retried/);
  });

  it('a bad configuration value names its variable', async () => {
    const t = testEnv({ QUEUE_LEASE_MARGIN: 'soon' });
    assertOneLineError(await run(['status'], t), /QUEUE_LEASE_MARGIN must be a whole number/);
    const t2 = testEnv({ QUEUE_CONNECTION: 'redis' });
    assertOneLineError(await run(['status'], t2), /'redis' as the default connection \(QUEUE_CONNECTION\)/);
  });

  it('a job file that does not default-export a Job stops the worker with its name', async () => {
    const t = testEnv();
    const result = await run(['work', '--stop-when-empty'], t, { cwd: path.join(repoRoot, 'test/fixtures/bad-export') });
    assertOneLineError(result, /app\/jobs\/NotAJob\.ts does not default-export a class that extends Job/);
  });

  it('garbage rows in queue_jobs go to failed storage with a reason; the worker keeps running', async () => {
    const t = testEnv();
    const [good] = await dispatchMany(t, 'Record.ts', 1);
    const db = new Database(t.env.DB_DATABASE!);
    const insert = db.prepare('insert into queue_jobs (job_id, queue, payload, attempts, available_at, created_at) values (?, ?, ?, 0, 0, 0)');
    const unknownJob = JSON.stringify({ v: 1, id: randomUUID(), job: 'NoSuchJob', queue: 'default', data: {}, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: 0 });
    const pathJob = JSON.stringify({ v: 1, id: randomUUID(), job: '../../etc/passwd', queue: 'default', data: {}, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: 0 });
    const badData = JSON.stringify({ v: 1, id: randomUUID(), job: 'Record', queue: 'default', data: { label: { $evil: 1 } }, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: 0 });
    insert.run(null, 'default', '\u0000garbage{{', );
    insert.run(null, 'default', '{"hello":"world"}');
    insert.run(null, 'default', unknownJob);
    insert.run(null, 'default', pathJob);
    insert.run(null, 'default', badData);
    db.close();
    const [after] = await dispatchMany(t, 'Record.ts', 1);

    const result = await run(['work', '--stop-when-empty'], t);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(records(t).map((line) => line.split(' ')[0]), [good, after], 'valid jobs before and after the garbage ran');
    const failed: { error: string; payload: string; job: string | null }[] = JSON.parse((await run(['failed:list', '--json'], t)).stdout);
    const reasons = failed.map((f) => f.error).sort();
    assert.equal(failed.length, 5);
    assert.ok(reasons.some((r) => /invalid payload: payload is not JSON/.test(r)));
    assert.ok(reasons.some((r) => /invalid payload: payload has version undefined/.test(r)));
    assert.ok(reasons.some((r) => /unknown job 'NoSuchJob'/.test(r)));
    assert.ok(reasons.some((r) => /invalid payload: payload has no valid job name/.test(r)));
    assert.ok(reasons.some((r) => /cannot build Record: field 'label' has an unknown tag '\$evil'/.test(r)));
    assert.ok(failed.some((f) => f.payload === '\u0000garbage{{'), 'raw bytes kept for inspection');
    const status = JSON.parse((await run(['status', '--json'], t)).stdout);
    assert.deepEqual(status.queues.map((q: { ready: number; failed: number }) => [q.ready, q.failed]), [[0, 5]]);
  });
});
