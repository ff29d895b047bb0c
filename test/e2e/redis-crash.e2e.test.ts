/**
 * Redis under crashes: many workers racing for the same due jobs, workers SIGKILLed mid-job, and the
 * Redis server itself going away under a running worker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { deleteRedisPrefix, REDIS_URL, skipReason, redisBackend } from '../helpers/backends.ts';
import { dispatchMany, logLines, managerFor, records, start, testEnv, trackedRuns as runs, untilRecords, type Running, type TestEnv } from '../helpers/cli.ts';
import { privateRedis } from '../helpers/servers.ts';

const skip = await skipReason(redisBackend());
const prefixes: string[] = [];

function redisEnv(extra: Record<string, string> = {}): TestEnv {
  const prefix = `crash-${randomUUID()}`;
  prefixes.push(prefix);
  return testEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix, ...extra });
}

describe('redis under crashes', { skip }, () => {
  after(async () => {
    for (const prefix of prefixes) await deleteRedisPrefix(prefix);
  });

  it('4 workers and 500 jobs due at the same moment: exactly 500 runs', async () => {
    const t = redisEnv();
    const manager = await managerFor(t);
    const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
    const due = new Date(Date.now() + 2500);
    const ids = (await manager.push(Array.from({ length: 500 }, () => new Record()), { delay: due })).map((pushed) => pushed.id);
    await manager.close();
    const workers = Array.from({ length: 4 }, () => start(['work', '--concurrency', '5', '--sleep', '1', '--max-time', '8'], t));
    const results = await Promise.all(workers.map((w) => w.done));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const ran = records(t).map((line) => line.split(' ')[0]!);
    assert.equal(ran.length, 500, 'exactly 500 runs');
    assert.deepEqual(new Set(ran), new Set(ids));
    const perWorker = results.map((r) => logLines(r.stdout).filter((l) => l.outcome === 'done').length);
    assert.ok(perWorker.filter((n) => n > 0).length >= 2, `the work was shared: ${perWorker.join(', ')}`);
  });

  it('a worker SIGKILLed mid-job: another worker runs the job after its lease', async () => {
    const t = redisEnv();
    const [id] = await dispatchMany(t, 'Tracked.ts', 1, { ms: 30_000 });
    const first = start(['work', '--json'], t);
    await untilRecords(t, (lines) => lines.length >= 1, 15_000);
    first.child.kill('SIGKILL');
    await first.done;
    const killedAt = Date.now();
    const second = start(['work', '--sleep', '0.5'], t);
    await untilRecords(t, (lines) => lines.length >= 2, 15_000);
    const leaseWait = Date.now() - killedAt;
    assert.ok(leaseWait >= 1500, `taken over only after the lease (timeout 2 s + margin 1 s), after ${leaseWait} ms`);
    second.child.kill('SIGINT');
    second.child.kill('SIGINT');
    await second.done;
    const { starts } = runs(t);
    assert.deepEqual(starts.get(id!)?.length, 2);
    assert.notEqual(starts.get(id!)![0], starts.get(id!)![1], 'two different processes');
  });

  it('4 workers, 2,000 jobs, a SIGKILL every second: none lost; only jobs in flight at a kill ran twice', async () => {
    const t = redisEnv();
    const ids = await dispatchMany(t, 'Tracked.ts', 2000, { ms: 20 });
    const killed = new Set<string>();
    const spawnWorker = () => start(['work', '--concurrency', '4', '--sleep', '0.5'], t);
    const workers: Running[] = Array.from({ length: 4 }, spawnWorker);
    const deadline = Date.now() + 60_000;
    let kills = 0;
    while (Date.now() < deadline) {
      await sleep(1000);
      if (runs(t).ends.size >= ids.length) break;
      const victim = Math.floor(Math.random() * workers.length);
      const pid = workers[victim]!.child.pid!;
      workers[victim]!.child.kill('SIGKILL');
      await workers[victim]!.done;
      killed.add(String(pid));
      kills += 1;
      workers[victim] = spawnWorker();
    }
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.done));

    const { starts, ends } = runs(t);
    const finished = ids.filter((id) => ends.has(id));
    assert.equal(finished.length, ids.length, `every job ran to its end (${kills} kills)`);
    let duplicates = 0;
    for (const [id, pids] of starts) {
      if (pids.length < 2) continue;
      duplicates += 1;
      // Every run but the last was cut short by a kill of the process running it.
      for (const pid of pids.slice(0, -1)) assert.ok(killed.has(pid), `job ${id} ran again after a run by ${pid}, which was not killed`);
    }
    assert.ok(kills >= 3, `the test killed workers (${kills})`);
    console.log(`# ${kills} kills, ${duplicates} jobs ran more than once, all ${ids.length} done`);
  });

  it('Redis going away: the worker logs it, backs off, reconnects and carries on', async () => {
    const server = await privateRedis();
    try {
      const t = redisEnv({ REDIS_URL: `redis://127.0.0.1:${server.port}/0` });
      const worker = start(['work', '--sleep', '0.5'], t);
      await worker.waitFor('worker started');
      const [before] = await dispatchMany(t, 'Record.ts', 1);
      await worker.waitFor('"outcome":"done"');
      await server.stop();
      await worker.waitFor(/cannot (reserve jobs|wait for jobs|read which queues are paused)/, 10_000);
      await sleep(1500);
      await server.start();
      const [afterRestart] = await dispatchMany(t, 'Record.ts', 1);
      await worker.waitFor(new RegExp(`"jobId":"${afterRestart}".*"outcome":"done"`), 20_000);
      worker.child.kill('SIGTERM');
      const result = await worker.done;
      assert.equal(result.code, 0, 'the worker never crashed');
      assert.deepEqual(records(t).map((line) => line.split(' ')[0]), [before, afterRestart]);
      // One line for the outage, with when it tries again, and one for the recovery.
      const outage = logLines(result.stdout).filter((line) => line.level === 50 && / retrying in [\d.]+s/.test(String(line.msg)));
      assert.equal(outage.length, 1, result.stdout);
      assert.match(String(outage[0]!.msg), new RegExp(`^cannot .* on Redis connection 'redis' \\(127\\.0\\.0\\.1:${server.port}\\): .*; retrying in 0.5s, and every 30s at most until it answers$`));
      assert.equal(logLines(result.stdout).filter((line) => /^connection 'redis' is back, after \d+s and \d+ failed tries$/.test(String(line.msg))).length, 1);
    } finally {
      await server.cleanup();
    }
  });
});
