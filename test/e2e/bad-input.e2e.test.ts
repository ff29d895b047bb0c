/** Every failure a user can cause: one clear line on stderr, a non-zero exit, nothing changed or lost; on every backend. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { dispatchMany, e2eBackends, escapeRegExp, managerFor, failedList, ranIds, records, repoRoot, run, status, type BackendName, type RunResult, type TestEnv, UNREACHABLE_ADDRESS } from '../helpers/cli.ts';

function assertOneLineError(result: RunResult, pattern: RegExp, command = 'the command'): void {
  assert.notEqual(result.code, 0, `${command}: exit code is non-zero`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${command}: one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${command}: no stack trace without --verbose`);
}

/** Runs commands that must each be refused with a one-line error; at once, since a refused command changes nothing. */
async function assertRefused(t: TestEnv, cases: [args: string[], pattern: RegExp][]): Promise<void> {
  const results = await Promise.all(cases.map(([args]) => run(args, t)));
  results.forEach((result, i) => assertOneLineError(result, cases[i]![1], `queue ${cases[i]![0].join(' ')}`));
}

/** An envelope as dispatch() would store it, with `job` and `data` as given. */
function envelope(job: string, data: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, id: randomUUID(), job, queue: 'default', data, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: 0 });
}

/** Runs redis-cli; resolves to its output (stdout and stderr: it reports some errors on stdout with exit 0). */
function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 5_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** Stores payloads on the default queue behind the driver's back, as a buggy producer or a hand edit would. */
async function storeRaw(backend: BackendName, t: TestEnv, payloads: string[]): Promise<void> {
  if (backend === 'sqlite') {
    const db = new Database(t.env.DB_DATABASE!);
    const insert = db.prepare('insert into queue_jobs (job_id, queue, payload, attempts, available_at, created_at) values (?, ?, ?, 0, 0, 0)');
    for (const payload of payloads) insert.run(null, 'default', payload);
    db.close();
    return;
  }
  if (backend === 'mariadb' || backend === 'postgres') {
    const { sql } = await import('kysely');
    const manager = await managerFor(t);
    const driver = (await manager.driver()) as unknown as { call<T>(what: string, work: (db: import('kysely').Kysely<any>) => Promise<T>): Promise<T> };
    for (const payload of payloads) {
      await driver.call('insert a row by hand', (db) =>
        sql`insert into ${sql.table(t.env.DB_QUEUE_TABLE!)} (job_id, queue, payload, attempts, available_at, created_at) values (null, 'default', ${payload}, 0, 0, 0)`.execute(db),
      );
    }
    await manager.close();
    return;
  }
  // The key layout is documented at the top of src/drivers/redis/keys.ts.
  const reply = await redisCli(['-u', t.env.REDIS_URL!, 'RPUSH', `${t.env.REDIS_PREFIX}:{default}:ready`, ...payloads]);
  assert.match(reply.trim(), /^\d+$/, `RPUSH answered ${reply}`);
}

/** Nothing in the captured output of these runs may contain `secret`. */
function assertNotPrinted(results: RunResult[], secret: string): void {
  for (const result of results) assert.ok(!(result.stdout + result.stderr).includes(secret), `'${secret}' was printed:\n${result.stdout}${result.stderr}`);
}

for (const backend of await e2eBackends()) {
  describe(`bad input (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('bad flag values are refused before anything runs', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Record.ts', 1);
      await assertRefused(t, [
        [['work', '--sleep', 'abc'], /--sleep.*expected seconds like 30 or 2\.5, got 'abc'/],
        [['work', '--sleep', '0x10'], /--sleep.*got '0x10'/],
        [['work', '--concurrency', '100000000'], /--concurrency.*expected a whole number from 1 to 1000, got '100000000'/],
        [['work', '--max-jobs', '-1'], /--max-jobs.*'-1'.*whole number >= 1/],
        [['work', '--max-jobs', '2.5'], /--max-jobs/],
        [['work', '--concurrency', '0'], /--concurrency/],
        [['work', '--prefetch', '-1'], /--prefetch.*'-1'.*whole number >= 0/],
        [['work', '--prefetch', '10001'], /--prefetch.*expected a whole number from 0 to 10000, got '10001'/],
        [['work', '--backoff', '10,x'], /--backoff/],
        [['work', '--queue', 'a,,b'], /--queue/],
        [['work', '--no-such-flag'], /unknown option '--no-such-flag'/],
        [['failed:list', '--limit', 'ten'], /--limit/],
      ]);
      assert.equal(records(t).length, 0, 'no job ran');
    });

    it('unknown command and unknown connection', async () => {
      await assertRefused(backend.env(), [
        [['wrok'], /unknown command 'wrok'/],
        [['status', '--connection', 'nope'], /unknown connection 'nope'; config\/queue\.ts defines: database, redis, sync$/],
        [['work', '--connection', 'sync'], /runs jobs inline/],
      ]);
    });

    it('unknown job names and malformed --data', async () => {
      const t = backend.env();
      await assertRefused(t, [
        [['dispatch', 'Nope'], /unknown job 'Nope'; known jobs: AlwaysFails, /],
        [['dispatch', 'Record', '--data', '{"label":'], /--data is not valid JSON/],
        [['dispatch', 'Record', '--data', '[1,2]'], /--data must be a JSON object/],
        [['dispatch', 'Record', '--data', '{"nope":1}'], /Record has no field 'nope'; its fields are: label/],
        [['dispatch', 'Record', '--delay', '-5'], /--delay/],
        [['dispatch', 'Record', '--delay', '1e17'], /--delay.*got '1e17'/],
        [['dispatch', 'Record', '--delay', '0x10'], /--delay.*got '0x10'/],
        [['dispatch', 'Record', '--delay', '100000000000000000'], /^error: delay must be at most 315360000 seconds \(ten years; got 100000000000000000\)$/],
        [['dispatch', 'Record', '--queue', 'x,y'], /^error: queue name "x,y" has a comma: workers take a comma-separated list of queues/],
        [['dispatch', 'Record', '--queue', ' x'], /^error: queue name " x" starts or ends with a space/],
        [['dispatch', 'Record', '--queue', 'x '], /^error: queue name "x " starts or ends with a space/],
        [['dispatch', 'Record', '--data', '@/no/such/file.json'], /^error: cannot read --data file \/no\/such\/file\.json \(ENOENT\)/],
      ]);
      assert.deepEqual((await status(t)).queues, [], 'nothing was dispatched');
    });

    it('--data takes a file (@file) or stdin (-), for fields too large for one argument', async () => {
      const t = backend.env();
      const label = 'x'.repeat(3 * 1024 * 1024);
      const file = path.join(t.dir, 'data.json');
      writeFileSync(file, JSON.stringify({ label }));
      const fromFile = await run(['dispatch', 'Record', '--data', `@${file}`], t);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const fromStdin = await run(['dispatch', 'Record', '--data', '-'], t, { input: JSON.stringify({ label: 'from stdin' }) });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      const worked = await run(['work', '--stop-when-empty'], t);
      assert.equal(worked.code, 0, worked.stderr);
      assert.deepEqual(records(t).map((line) => line.split(' ').slice(2).join(' ').length).sort((a, b) => a - b), ['from stdin'.length, label.length]);
    });

    it('unknown failed ids', async () => {
      const id = randomUUID();
      await assertRefused(backend.env(), [
        [['failed:show', id], new RegExp(`no failed job with id ${id}`)],
        [['failed:forget', id], /no failed job with id/],
        [['retry', id], /no failed job with id .*nothing was retried/],
      ]);
    });

    it('a bad configuration value names its variable', async () => {
      const cases: [Record<string, string>, RegExp][] = [
        [{ QUEUE_LEASE_MARGIN: 'soon' }, /QUEUE_LEASE_MARGIN must be a whole number/],
        [{ QUEUE_CONNECTION: 'nosuch' }, /'nosuch' as the default connection \(QUEUE_CONNECTION\), but defines only: database, redis, sync/],
        [{ REDIS_PREFIX: 'my{app}' }, /prefix 'my\{app\}' \(REDIS_PREFIX\); use no braces or spaces/],
      ];
      const results = await Promise.all(cases.map(([extra]) => run(['status'], backend.env(extra))));
      results.forEach((result, i) => assertOneLineError(result, cases[i]![1], `status with ${JSON.stringify(cases[i]![0])}`));
    });

    it('a job file that does not default-export a Job stops the worker with its name', async () => {
      const t = backend.env();
      const result = await run(['work', '--stop-when-empty'], t, { cwd: path.join(repoRoot, 'test/fixtures/bad-export') });
      assertOneLineError(result, /app\/jobs\/NotAJob\.ts does not default-export a class that extends Job/);
    });

    const where = backend.name === 'redis' ? 'elements in the ready list' : 'rows in queue_jobs';
    it(`garbage ${where} go to failed storage with a reason; the worker keeps running`, async () => {
      const t = backend.env();
      const [good] = await dispatchMany(t, 'Record.ts', 1);
      // A Redis list element comes from redis-cli's argv, and PostgreSQL text, cannot carry a NUL byte.
      const notJson = backend.name === 'sqlite' ? '\u0000garbage{{' : 'garbage{{ é';
      await storeRaw(backend.name, t, [
        notJson,
        '{"hello":"world"}',
        envelope('NoSuchJob'),
        envelope('../../etc/passwd'),
        envelope('Record', { label: { $evil: 1 } }),
      ]);
      const [later] = await dispatchMany(t, 'Record.ts', 1);

      const result = await run(['work', '--stop-when-empty'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ranIds(t), [good, later], 'valid jobs before and after the garbage ran');
      const failed = await failedList(t);
      const reasons = failed.map((f) => f.error).sort();
      assert.equal(failed.length, 5);
      assert.ok(reasons.some((r) => /invalid payload: payload is not JSON/.test(r)));
      assert.ok(reasons.some((r) => /invalid payload: payload has version undefined/.test(r)));
      assert.ok(reasons.some((r) => /unknown job 'NoSuchJob'/.test(r)));
      assert.ok(reasons.some((r) => /invalid payload: payload has no valid job name/.test(r)));
      assert.ok(reasons.some((r) => /invalid payload: field 'label' has an unknown tag '\$evil'/.test(r)));
      assert.ok(failed.some((f) => f.payload === notJson && f.job === null), 'raw bytes kept for inspection');
      assert.deepEqual((await status(t)).queues.map((q) => [q.queue, q.ready, q.failed]), [['default', 0, 5]]);
    });

    it('a dispatch to storage that cannot be reached fails with one line that says where, and exit 1', async () => {
      const { t, where } = backend.unreachable();
      const result = await run(['dispatch', 'Record'], t);
      assertOneLineError(result, where);
      assert.equal(result.code, 1);
    });

    it('a password in REDIS_URL is printed by no command', async () => {
      const secret = 'Sup3rSecret';
      const t = backend.env({ REDIS_URL: `redis://:${secret}@${UNREACHABLE_ADDRESS}/0` });
      const results = await Promise.all([['dispatch', 'Record'], ['--verbose', 'dispatch', 'Record'], ['status'], ['work', '--max-time', '2']].map((args) => run(args, t)));
      assertNotPrinted(results, secret);
      if (backend.name === 'redis') {
        for (const result of results) assert.match(result.stdout + result.stderr, new RegExp(`Redis connection 'redis' \\(${escapeRegExp(UNREACHABLE_ADDRESS)}\\)`), 'the failure names host:port');
      }
    });
  });
}
