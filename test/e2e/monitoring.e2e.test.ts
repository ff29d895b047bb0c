/**
 * Seeing it run from the terminal, with real workers on every backend (SPEC 15): `queue workers`
 * lists the live ones and drops one killed with SIGKILL after its lease; `queue metrics` adds up
 * what two workers did; `queue monitor` exits 0 within its thresholds and 2 naming each one passed.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { WorkerInfo } from '../../src/contract/driver.ts';
import type { QueueMetrics } from '../../src/queue/metrics.ts';
import { dispatchMany, e2eBackends, run, runOk, start, type TestEnv } from '../helpers/cli.ts';

async function until<T>(what: string, read: () => Promise<T>, test: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)}`);
    await sleep(250);
  }
}

const workersOf = async (t: TestEnv): Promise<WorkerInfo[]> => JSON.parse((await runOk(['workers', '--json'], t)).stdout);
const metricsOf = async (t: TestEnv): Promise<QueueMetrics[]> => JSON.parse((await runOk(['metrics', '--json'], t)).stdout);

for (const backend of await e2eBackends()) {
  describe(`workers, metrics and monitor (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('two workers are listed while they beat, their counts add up, and one killed with SIGKILL drops off', async () => {
      const t = backend.env();
      assert.match((await runOk(['workers'], t)).stdout, /no live workers/);
      await dispatchMany(t, 'Noop.ts', 30);
      await dispatchMany(t, 'AlwaysFails.ts', 2);
      const alpha = start(['work', '--name', 'alpha', '--concurrency', '2', '--sleep', '0.2'], t);
      const beta = start(['work', '--name', 'beta', '--sleep', '0.2'], t);
      await Promise.all([alpha.waitFor('worker started', 20_000), beta.waitFor('worker started', 20_000)]);

      const listed = await until('both workers listed', () => workersOf(t), (w) => w.length === 2);
      assert.deepEqual(listed.map((w) => [w.name, w.queues, w.concurrency]), [['alpha', ['default'], 2], ['beta', ['default'], 1]]);
      assert.ok(listed.every((w) => w.rssBytes > 10_000_000 && w.pid > 0 && w.beatAt <= w.expiresAt));

      const [metrics] = await until('30 done and 2 failed counted', () => metricsOf(t), (m) => m[0]?.completed === 30 && m[0]?.failed === 2);
      assert.equal(metrics!.queue, 'default');
      assert.equal(metrics!.retried, 2, 'each AlwaysFails job was retried once before failing for good');
      assert.equal(metrics!.wait?.count, 32, 'a wait per first try');
      assert.equal(metrics!.run?.count, 34, 'a run time per try');
      assert.equal(metrics!.counts.failed, 2);
      assert.match((await runOk(['metrics'], t)).stdout, /default/);
      const prometheus = (await runOk(['metrics', '--format', 'prometheus'], t)).stdout;
      assert.match(prometheus, new RegExp(`^queue_jobs_completed_total\\{connection="${backend.connection}",queue="default"\\} 30$`, 'm'));
      assert.match(prometheus, new RegExp(`^queue_workers\\{connection="${backend.connection}"\\} 2$`, 'm'));

      const jobsDone = (await workersOf(t)).reduce((sum, w) => sum + w.jobsDone, 0);
      assert.equal(jobsDone, 34, 'the jobs done the workers report');
      alpha.child.kill('SIGKILL');
      await alpha.done;
      const killedAt = Date.now();
      await until('the killed worker dropped off', () => workersOf(t), (w) => w.length === 1 && w[0]!.name === 'beta', 20_000);
      assert.ok(Date.now() - killedAt >= 3_000, 'not before its lease ran out');
      beta.child.kill('SIGTERM');
      assert.equal((await beta.done).code, 0);
      assert.deepEqual(await workersOf(t), [], 'a worker that stops leaves at once');
      assert.match((await runOk(['status'], t)).stdout, /no live workers/);
    });

    it('monitor: 0 within the thresholds, 2 naming each one passed, 1 when it cannot check', async () => {
      const t = backend.env();
      await dispatchMany(t, 'Noop.ts', 5);
      const ok = await runOk(['monitor', '--queue', 'default,emails', '--max-size', '5', '--max-failed-per-minute', '0'], t);
      assert.match(ok.stdout, /^ok: default, emails within --max-size 5, --max-failed-per-minute 0\n$/);

      await sleep(1_200);
      const passed = await run(['monitor', '--queue', 'default', '--max-size', '4', '--max-wait', '1'], t);
      assert.equal(passed.code, 2, passed.stderr);
      assert.match(passed.stderr, /^queue default has 5 jobs waiting, over --max-size 4$/m);
      assert.match(passed.stderr, /^queue default's oldest ready job has waited \d+s, over --max-wait 1$/m);

      await dispatchMany(t, 'AlwaysFails.ts', 1);
      await runOk(['work', '--stop-when-empty'], t);
      const failing = await until('the failure counted', () => run(['monitor', '--queue', 'default', '--max-failed-per-minute', '0'], t), (r) => r.code === 2, 10_000);
      assert.match(failing.stderr, /^queue default had 1 jobs fail in the last minute, over --max-failed-per-minute 0$/m);

      const none = await run(['monitor', '--queue', 'default'], t);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /name at least one threshold: --max-size, --max-wait or --max-failed-per-minute/);
      const bad = await run(['monitor', '--queue', 'default', '--max-size', '-3'], t);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--max-size.*expected a whole number >= 0, got '-3'/);
    });
  });
}
