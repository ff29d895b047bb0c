/**
 * Schedules with real workers, on every backend (SPEC 12): three workers on a one-second schedule,
 * all killed with SIGKILL and started again half-way, fire each occurrence once: none twice, none
 * lost but in the gap while no worker ran. And `queue schedule:list | run | pause | resume`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { occurrenceOf } from '../../src/queue/schedules.ts';
import { e2eBackends, records, repoRoot, runOk, start, type Running, type TestEnv } from '../helpers/cli.ts';

const scheduled = path.join(repoRoot, 'test/fixtures/scheduled');


function workers(t: TestEnv, n: number): Running[] {
  return Array.from({ length: n }, () => start(['work', '--sleep', '0.2'], t, { cwd: scheduled }));
}

/** The runs of the one-second schedule: [occurrence, id, attempt]. */
function ticks(t: TestEnv): [number, string, string][] {
  return records(t).filter((line) => line.endsWith(' every second')).map((line) => {
    const [id, attempt] = line.split(' ') as [string, string];
    return [occurrenceOf(id), id, attempt];
  });
}

for (const backend of await e2eBackends()) {
  describe(`schedules with real workers (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('three workers, killed and started again half-way, fire each one-second occurrence exactly once', async () => {
      const t = backend.env();
      const first = workers(t, 3);
      await Promise.all(first.map((w) => w.waitFor('worker started', 20_000)));
      await sleep(4_500);
      for (const w of first) w.child.kill('SIGKILL');
      await Promise.all(first.map((w) => w.done));
      const down = Date.now();
      await sleep(2_000);
      const second = workers(t, 3);
      await Promise.all(second.map((w) => w.waitFor('worker started', 20_000)));
      const up = Date.now();
      await sleep(4_500);
      for (const w of second) w.child.kill('SIGTERM');
      for (const result of await Promise.all(second.map((w) => w.done))) assert.equal(result.code, 0, result.stderr);

      const runs = ticks(t);
      const occurrences = runs.map(([at]) => at);
      assert.equal(new Set(occurrences).size, occurrences.length, `no occurrence ran twice: ${JSON.stringify(runs)}`);
      assert.ok(runs.every(([at]) => at % 1_000 === 0), 'every occurrence is on a whole second');
      const sorted = [...occurrences].sort((a, b) => a - b);
      assert.ok(sorted.length >= 6, `the schedule fired in both halves: ${sorted.length} runs`);
      // Every second from the first run to the last was fired, but for the seconds no worker watched.
      for (let at = sorted[0]!; at <= sorted.at(-1)!; at += 1_000) {
        if (at > down - 1_000 && at < up) continue;
        assert.ok(occurrences.includes(at), `the occurrence at ${new Date(at).toISOString()} ran (down ${new Date(down).toISOString()}, up ${new Date(up).toISOString()})`);
      }
      assert.ok(occurrences.some((at) => at < down) && occurrences.some((at) => at >= up - 1_000), 'runs before the kill and after the restart');
      assert.ok(occurrences.filter((at) => at > down && at < up - 1_000).length <= 1, "missed: 'skip' runs nothing of the gap but the occurrence on time at the restart");
    });

    it('schedule:list shows each schedule; pause stops it, resume and run fire it', async () => {
      const t = backend.env();
      const listed = JSON.parse((await runOk(['schedule:list', '--json'], t, { cwd: scheduled })).stdout);
      assert.deepEqual(listed.map((s: { name: string }) => s.name), ['new-year', 'tick']);
      const newYear = listed[0];
      assert.equal(newYear.rule, 'cron 0 0 1 1 * (Europe/Berlin)');
      assert.equal(newYear.job, 'Tick');
      assert.equal(newYear.paused, false);
      assert.match(newYear.nextRunAt, /^\d{4}-12-31T23:00:00.000Z$/, 'midnight in Berlin is 23:00 UTC in winter');
      assert.equal(newYear.lastAt, null);

      assert.match((await runOk(['schedule:pause', 'tick'], t, { cwd: scheduled })).stdout, /paused schedule tick/);
      const paused = workers(t, 1);
      await paused[0]!.waitFor('worker started', 20_000);
      await sleep(2_500);
      assert.deepEqual(ticks(t), [], 'a paused schedule fires nothing');
      const human = (await runOk(['schedule:list'], t, { cwd: scheduled })).stdout;
      assert.match(human, /│ tick +│ Tick +│ every 1s +│ default +│ \(paused\) +│ - +│ yes +│/);

      const id = (await runOk(['schedule:run', 'tick'], t, { cwd: scheduled })).stdout.trim();
      await runOk(['schedule:resume', 'tick'], t, { cwd: scheduled });
      await sleep(2_500);
      paused[0]!.child.kill('SIGTERM');
      await paused[0]!.done;
      const runs = ticks(t);
      assert.ok(runs.some(([, ran]) => ran === id), 'schedule:run dispatched one now');
      assert.ok(runs.filter(([, ran]) => ran !== id).length >= 1, 'resumed, it fires again');
      const after = JSON.parse((await runOk(['schedule:list', '--json'], t, { cwd: scheduled })).stdout);
      assert.ok(Date.parse(after[1].firedAt) > 0, 'the last run is on record');

      const unknown = await runOk(['schedule:pause', 'nope'], t, { cwd: scheduled }).catch((error: Error) => error);
      assert.match(String(unknown), /no schedule named 'nope' on connection '\w+'; there are: new-year, tick/);
    });
  });
}
