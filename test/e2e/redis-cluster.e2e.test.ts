/**
 * The redis driver on a real 3-master Redis Cluster that this file starts on loopback: dispatch,
 * work, fail, retry, delay, priority, status, pause and restart through the real `queue` binary,
 * with queues whose keys live on different nodes; job records found and listed across them, shown
 * and waited for, and cancels of waiting and running jobs (the request is written in the job's
 * slot, its worker signal in another); workers' heartbeats with metrics of queues on several nodes,
 * read back across them. Locally it is skipped (with a line saying so) when
 * redis-server is not installed; under CI it is required.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { env } from '../../src/env.ts';
import type { QueueStats, WorkerBeat } from '../../src/contract/driver.ts';
import { minuteOf } from '../../src/contract/metrics.ts';
import { openRedis } from '../../src/drivers/redis/open.ts';
import type { RedisDriver } from '../../src/drivers/redis/RedisDriver.ts';
import { escapeRegExp, logLines, records, run, start, testEnv, type TestEnv } from '../helpers/cli.ts';
import { redisCli, redisClusterUnavailable, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';

const missing = redisClusterUnavailable();
// Under CI the cluster is required: before() then fails with the reason instead of skipping.
const skip = missing !== undefined && !env.isCI() ? missing : false;
if (skip) console.log(`# skipping the Redis Cluster e2e tests: ${skip}`);

/** One row of `queue status --json`. */
type QueueStatus = QueueStats & { paused: boolean };

describe('the redis driver on a 3-node Redis Cluster', { skip }, () => {
  let cluster: RedisCluster;

  before(async () => {
    cluster = await startRedisCluster();
  });

  after(async () => {
    await cluster?.stop();
  });

  /** A test's own environment: the cluster's seed nodes and a fresh key prefix. */
  function clusterEnv(): TestEnv & { prefix: string } {
    const prefix = `cluster-${randomUUID()}`;
    return { ...testEnv({ QUEUE_CONNECTION: 'redis', REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_PREFIX: prefix }), prefix };
  }

  /** Runs a command that must exit 0; returns its stdout. */
  async function ok(t: TestEnv, ...args: string[]): Promise<string> {
    const result = await run(args, t, { timeoutMs: 30_000 });
    assert.equal(result.code, 0, `queue ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  async function dispatch(t: TestEnv, job: string, queue: string, data: object = {}, ...flags: string[]): Promise<string> {
    return (await ok(t, 'dispatch', job, '--queue', queue, '--data', JSON.stringify(data), ...flags)).trim();
  }

  async function status(t: TestEnv): Promise<{ queues: QueueStatus[]; paused: string[] }> {
    return JSON.parse(await ok(t, 'status', '--json'));
  }

  /** queue -> its counts, for the queues status lists. */
  async function counts(t: TestEnv): Promise<Record<string, Omit<QueueStatus, 'queue'>>> {
    return Object.fromEntries((await status(t)).queues.map(({ queue, ...rest }) => [queue, rest]));
  }

  const ids = (t: TestEnv) => records(t).map((line) => line.split(' ')[0]);

  /** Runs `work` with the test's own driver on the cluster. */
  async function withDriver<T>(t: TestEnv & { prefix: string }, work: (driver: RedisDriver) => Promise<T>): Promise<T> {
    const driver = openRedis('redis', { driver: 'redis', cluster: cluster.nodes, prefix: t.prefix });
    try {
      return await work(driver);
    } finally {
      await driver.close();
    }
  }

  it('dispatches to five queues on different slots and one worker runs every job exactly once', async () => {
    const t = clusterEnv();
    const queues = ['alpha', 'beta', 'gamma', 'mail:{eu}', 'reports é'];
    const dispatched = await Promise.all(queues.flatMap((queue) => [1, 2].map((n) => dispatch(t, 'Record', queue, { label: `${queue}#${n}` }))));

    // Where the keys really are: each node's own keyspace (SCAN without -c never follows a redirect).
    const held = new Map<string, string[]>();
    for (const node of cluster.nodes) {
      const [host, port] = node.split(':') as [string, string];
      held.set(node, (await redisCli(['-h', host, '-p', port, '--scan', '--pattern', `${t.prefix}:{*`])).split('\n').filter(Boolean));
    }
    const nodeOfTag = new Map<string, Set<string>>();
    for (const [node, keys] of held) {
      for (const key of keys) {
        const tag = key.slice(t.prefix.length + 1, key.lastIndexOf(':'));
        nodeOfTag.set(tag, (nodeOfTag.get(tag) ?? new Set()).add(node));
      }
    }
    const [seedHost, seedPort] = cluster.nodes[0]!.split(':') as [string, string];
    const slots = await Promise.all([...nodeOfTag.keys()].map(async (tag) => Number(await redisCli(['-h', seedHost, '-p', seedPort, 'cluster', 'keyslot', `${t.prefix}:${tag}:ready`]))));
    const layout = [...held].map(([node, keys]) => `${node}: ${[...new Set(keys.map((key) => key.slice(t.prefix.length + 1, key.lastIndexOf(':'))))].join(' ') || '(none)'}`);
    console.log(`# queue keys per node: ${layout.join('; ')}; slots ${slots.join(', ')}`);
    assert.deepEqual([...nodeOfTag.keys()].sort(), ['{alpha}', '{beta}', '{gamma}', '{mail:%7Beu%7D}', '{reports é}']);
    for (const [tag, nodes] of nodeOfTag) assert.equal(nodes.size, 1, `all keys of ${tag} live on one node, not ${[...nodes].join(', ')}`);
    assert.equal(new Set(slots).size, queues.length, 'every queue has its own slot');
    assert.ok([...held.values()].filter((keys) => keys.length > 0).length >= 2, `queue keys span at least two nodes: ${layout.join('; ')}`);

    const result = await run(['work', '--queue', queues.join(','), '--stop-when-empty', '--sleep', '0.2'], t, { timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([...ids(t)].sort(), [...dispatched].sort(), 'every dispatched job ran exactly once');
    assert.deepEqual(records(t).map((line) => line.split(' ').slice(1).join(' ')).sort(), queues.flatMap((queue) => [`1 ${queue}#1`, `1 ${queue}#2`]).sort());
    assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'empty');
    const left = await counts(t);
    assert.deepEqual(Object.keys(left).sort(), [...queues].sort(), 'each queue is listed for its completed records');
    for (const queue of queues) {
      assert.deepEqual(left[queue], { ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 2, cancelled: 0, paused: false }, `nothing waits on ${queue}; its two records are kept`);
    }

    await withDriver(t, async (driver) => {
      const record = await driver.records.find(dispatched[0]!);
      assert.equal(record?.state, 'completed', 'find asks every queue, whatever node it is on');
      assert.equal(record.queue, 'alpha');
      assert.equal(record.attempts, 1);
      const all = await driver.records.list({ state: 'completed', limit: 6 });
      const rest = await driver.records.list({ state: 'completed', limit: 6, cursor: all.cursor });
      assert.deepEqual([...all.records, ...rest.records].map((r) => r.id).sort(), [...dispatched].sort(), 'two pages merged across the queues');
      assert.equal(rest.cursor, undefined);
      assert.deepEqual((await driver.records.list({ state: 'completed', queue: 'mail:{eu}' })).records.map((r) => r.queue), ['mail:{eu}', 'mail:{eu}']);
    });
  });

  it('fails jobs on two queues, lists, shows, retries all and flushes them', async () => {
    const t = clusterEnv();
    const queues = ['billing', 'mail:{eu}'];
    const [first, second] = await Promise.all(queues.map((queue) => dispatch(t, 'AlwaysFails', queue, { reason: `down on ${queue}` })));
    const work = async () => {
      const result = await run(['work', '--queue', queues.join(','), '--stop-when-empty', '--sleep', '0.1'], t, { timeoutMs: 30_000 });
      assert.equal(result.code, 0, result.stderr);
    };
    await work();
    assert.deepEqual(records(t).filter((line) => !line.startsWith('failed-hook')).sort(), [`${first} 1 attempt`, `${first} 2 attempt`, `${second} 1 attempt`, `${second} 2 attempt`].sort());
    assert.equal(records(t).filter((line) => line.startsWith('failed-hook')).length, 2);

    const listed = JSON.parse(await ok(t, 'failed:list', '--json')) as { id: string; queue: string; job: string; error: string }[];
    assert.deepEqual(listed.map(({ id, queue, job }) => ({ id, queue, job })).sort((a, b) => a.queue.localeCompare(b.queue)), [
      { id: first, queue: 'billing', job: 'AlwaysFails' },
      { id: second, queue: 'mail:{eu}', job: 'AlwaysFails' },
    ]);
    const shown = JSON.parse(await ok(t, 'failed:show', second!, '--json'));
    assert.equal(shown.queue, 'mail:{eu}');
    assert.match(shown.error, /AlwaysFails: down on mail:\{eu\}/);
    const failed = await withDriver(t, (driver) => driver.records.find(second!));
    assert.equal(failed?.state, 'failed');
    assert.match(failed.error!, /AlwaysFails: down on mail:\{eu\}/);

    assert.match(await ok(t, 'retry', 'all', '--force'), /^2 failed job\(s\) put back on their queues$/m);
    const back = await counts(t);
    for (const queue of queues) assert.deepEqual(back[queue], { ready: 1, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0, paused: false }, queue);

    await work();
    assert.equal(records(t).filter((line) => line.startsWith('failed-hook')).length, 4, 'both failed again');
    assert.match(await ok(t, 'failed:flush', '--force'), /deleted 2 failed job record\(s\)/);
    assert.deepEqual(JSON.parse(await ok(t, 'failed:list', '--json')), []);
  });

  it('runs a delayed job once it is due, and takes queues in priority order, then jobs by their priority', async () => {
    const t = clusterEnv();
    const worker = start(['work', '--queue', 'alpha', '--max-time', '6', '--max-jobs', '1', '--sleep', '0.2'], t);
    await worker.waitFor('worker started');
    const dispatchedAfter = Date.now();
    const id = await dispatch(t, 'Record', 'alpha', { label: 'later' }, '--delay', '1');
    const dispatchedBy = Date.now();
    const result = await worker.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'max-jobs', 'it ran before --max-time');
    assert.deepEqual(records(t), [`${id} 1 later`]);
    const startedAt = Number(logLines(result.stdout).find((line) => line.jobId === id && line.msg === 'started')?.time);
    assert.ok(startedAt >= dispatchedAfter + 1000, `not before its delay: ran ${startedAt - dispatchedAfter} ms after dispatch began`);
    assert.ok(startedAt <= dispatchedBy + 2500, `soon after its delay: ran ${startedAt - dispatchedBy} ms after dispatch returned`);

    const t2 = clusterEnv();
    const low = await dispatch(t2, 'Record', 'gamma', { label: 'low' });
    // A job of a priority waits in its priority's list, a key the scripts name from the queue's
    // `ready` in its slot.
    const urgent = await dispatch(t2, 'Record', 'gamma', { label: 'urgent' }, '--priority', '7');
    const high = await dispatch(t2, 'Record', 'beta', { label: 'high' });
    await ok(t2, 'work', '--queue', 'beta,gamma', '--stop-when-empty', '--sleep', '0.1');
    assert.deepEqual(ids(t2), [high, urgent, low]);
  });

  it('show and wait follow a job on one slot; cancel stops a delayed job and a running one on two others', async () => {
    const t = clusterEnv();
    const done = await dispatch(t, 'Report', 'alpha', { rows: 4 });
    const delayed = await dispatch(t, 'Report', 'mail:{eu}', {}, '--delay', '60');
    const slow = await dispatch(t, 'Report', 'reports é', { ms: 20_000 });
    assert.equal(JSON.parse(await ok(t, 'show', done, '--json')).state, 'ready');
    assert.equal(JSON.parse(await ok(t, 'show', delayed, '--json')).state, 'delayed');

    // Finish notices: a PUBLISH from a script on one node reaches a subscriber on any node.
    const heard: string[] = [];
    const listener = openRedis('redis', { driver: 'redis', cluster: cluster.nodes, prefix: t.prefix });
    try {
      await listener.onFinished((ids) => heard.push(...ids));
      const waiting = start(['wait', done, '--timeout', '30'], t);
      assert.match(await ok(t, 'cancel', delayed), new RegExp(`cancelled ${delayed}`));
      const worker = start(['work', '--queue', 'alpha,mail:{eu},reports é', '--sleep', '0.2'], t);
      try {
        await worker.waitFor('worker started');
        const waited = await waiting.done;
        assert.equal(waited.code, 0, waited.stderr);
        assert.equal(JSON.parse(waited.stdout).rows, 4, 'wait prints the result');
        const shown = JSON.parse(await ok(t, 'show', done, '--json'));
        assert.equal(shown.state, 'completed');
        assert.equal(shown.queue, 'alpha');
        assert.deepEqual(shown.progress, { done: 4, of: 4 });

        await until(() => records(t).includes(`${slow} 1 start`), 10_000, 'the slow job starts');
        assert.equal(JSON.parse(await ok(t, 'show', slow, '--json')).progress, 50, 'its progress, while it runs');
        const asked = Date.now();
        assert.match(await ok(t, 'cancel', slow), /cancel requested/);
        await until(() => records(t).some((line) => line.startsWith(`${slow} 1 aborted`)), 10_000, 'its signal aborts it');
        assert.ok(Date.now() - asked < 5_000, `aborted within seconds (${Date.now() - asked} ms)`);
        const cancelled = await run(['wait', slow, '--timeout', '10'], t);
        assert.equal(cancelled.code, 1);
        assert.match(cancelled.stderr, new RegExp(`^error: job ${escapeRegExp(slow)} was cancelled$`, 'm'));
        await sleep(1_500);
      } finally {
        worker.child.kill('SIGTERM');
        const stopped = await worker.done;
        assert.equal(stopped.code, 0, stopped.stderr);
      }
      for (let i = 0; i < 50 && heard.length < 3; i++) await sleep(20);
      assert.deepEqual([...heard].sort(), [done, delayed, slow].sort(), 'every finish was told');
    } finally {
      await listener.close();
    }

    assert.ok(!records(t).some((line) => line.startsWith(delayed)), 'the cancelled delayed job never ran');
    assert.deepEqual(records(t).filter((line) => line.startsWith(slow)), [`${slow} 1 start`, `${slow} 1 aborted AbortError`], 'ran once: not retried');
    for (const id of [delayed, slow]) assert.equal(JSON.parse(await ok(t, 'show', id, '--json')).state, 'cancelled', id);
    const now = await counts(t);
    assert.deepEqual([now['mail:{eu}']?.cancelled, now['reports é']?.cancelled, now.alpha?.completed], [1, 1, 1]);
    await withDriver(t, async (driver) => assert.deepEqual((await driver.signals()).cancelRequested, [], 'the request is cleared'));
    assert.match(await ok(t, 'clean', 'cancelled'), /^deleted 2 cancelled job record/);
    assert.equal((await run(['show', slow], t)).code, 1, 'cleaned away');
  });

  it("a heartbeat counts on queues of different slots at once; workers, buckets, totals and a queue's oldest ready job read back", async () => {
    const t = clusterEnv();
    const queues = ['alpha', 'mail:{eu}', 'reports é'];
    const minute = minuteOf(Date.now());
    const beat: WorkerBeat = { id: 'w1', name: 'cluster-worker', host: 'h', pid: 1, queues, concurrency: 2, running: [], startedAt: Date.now(), jobsDone: 3, rssBytes: 1, seq: 1 };
    const buckets = queues.map((queue, i) => ({ queue, minute, counts: { completed: i + 1, run_ms: 10 } }));
    await withDriver(t, async (driver) => {
      await driver.monitor.beat(beat, 10_000, buckets);
      await driver.monitor.beat(beat, 10_000, buckets);
      assert.deepEqual((await driver.monitor.workers()).map((w) => [w.name, w.seq]), [['cluster-worker', 1]]);
      assert.deepEqual(await driver.monitor.metrics({ since: minute }), buckets, 'each queue once, though the beat went twice');
      assert.deepEqual(await driver.monitor.totals(), buckets.map((bucket) => ({ ...bucket, minute: 0 })));
      assert.deepEqual(await driver.monitor.metrics({ since: minute, queue: 'mail:{eu}' }), [buckets[1]]);

      const before = Date.now();
      await dispatch(t, 'Record', 'mail:{eu}');
      const oldest = await driver.monitor.oldestReady('mail:{eu}');
      assert.ok(oldest !== null && oldest >= before - 1_000 && oldest <= Date.now(), `${oldest} is when it was dispatched`);

      await driver.monitor.leave('w1');
      assert.deepEqual(await driver.monitor.workers(), []);
    });
  });

  it('status counts per queue; pause, resume and restart reach a running worker', async () => {
    const t = clusterEnv();
    await Promise.all([
      dispatch(t, 'Record', 'alpha', { label: 'a1' }),
      dispatch(t, 'Record', 'alpha', { label: 'a2' }),
      dispatch(t, 'Record', 'reports é', { label: 'r1' }),
      dispatch(t, 'Record', 'beta', { label: 'later' }, '--delay', '600'),
    ]);
    await ok(t, 'pause', 'alpha');
    const before = await status(t);
    assert.deepEqual(before.paused, ['alpha']);
    assert.deepEqual(Object.fromEntries(before.queues.map((q) => [q.queue, [q.ready, q.delayed, q.reserved, q.failed, q.paused]])), {
      alpha: [2, 0, 0, 0, true],
      beta: [0, 1, 0, 0, false],
      'reports é': [1, 0, 0, 0, false],
    });

    const worker = start(['work', '--queue', 'alpha,reports é', '--sleep', '0.2'], t);
    try {
      await worker.waitFor('worker started');
      await until(() => records(t).length === 1, 10_000, 'the worker runs the job on the queue that is not paused');
      await sleep(1_500);
      assert.deepEqual(records(t).map((line) => line.split(' ')[2]), ['r1'], 'the paused queue is skipped');

      await ok(t, 'resume', 'alpha');
      await until(() => records(t).length === 3, 10_000, 'after resume the worker takes the two alpha jobs');
      assert.deepEqual((await status(t)).paused, []);

      assert.match(await ok(t, 'restart'), /restart requested/);
      const result = await Promise.race([worker.done, sleep(10_000, undefined, { ref: false })]);
      assert.ok(result, 'the worker exits after queue restart');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(logLines(result.stdout).find((line) => line.reason)?.reason, 'restart');
      assert.equal((await counts(t)).beta?.delayed, 1, 'the delayed job is still waiting');
    } finally {
      worker.child.kill('SIGKILL');
    }
  });
});

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(100);
  }
}
