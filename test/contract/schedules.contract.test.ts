/**
 * The schedules' store (SPEC 12): a schedule's cursor moves on to an occurrence once, with the
 * occurrence's job stored in the same atomic step, however many workers try at once; schedules added
 * at run time and pauses are kept. The same cases against every backend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScheduleCursor } from '../../src/contract/driver.ts';
import { backends, suiteDrivers, type Backend } from '../helpers/backends.ts';
import { storedJob as job } from '../helpers/stored.ts';

const DIGEST: ScheduleCursor = { name: 'daily-digest', queue: 'default' };
const AT = Date.UTC(2026, 11, 6, 8, 0, 0);

for (const makeBackend of backends) {
  const backend: Backend = makeBackend();
  describe(`schedules: ${backend.name}`, async () => {
    const { skip, fresh, atOnce } = await suiteDrivers(backend);

    it('a cursor moves on to each occurrence once, storing its job in the same step; never back', { skip }, async () => {
      const d = await fresh();
      assert.deepEqual(await d.schedules.states([DIGEST]), [{ name: DIGEST.name, lastAt: null, firedAt: null }]);
      const first = job('default', { label: '08:00' });
      const before = Date.now();
      assert.equal(await d.schedules.advance(DIGEST, AT, first), true);
      const [state] = await d.schedules.states([DIGEST]);
      assert.equal(state!.lastAt, AT);
      assert.ok(state!.firedAt! >= before - 1_000 && state!.firedAt! <= Date.now() + 1_000, 'fired now, by the backend clock');
      assert.equal((await d.records.find(first.id))?.state, 'ready');

      const again = job('default', { label: '08:00 again' });
      assert.equal(await d.schedules.advance(DIGEST, AT, again), false, 'the same occurrence twice');
      assert.equal(await d.schedules.advance(DIGEST, AT - 60_000, job('default')), false, 'an earlier one');
      assert.equal(await d.records.find(again.id), undefined);
      assert.equal(await d.size('default'), 1);

      assert.equal(await d.schedules.advance(DIGEST, AT + 60_000, null), true, 'a skipped occurrence moves the cursor');
      const [skipped] = await d.schedules.states([DIGEST]);
      assert.deepEqual(skipped, { name: DIGEST.name, lastAt: AT + 60_000, firedAt: state!.firedAt }, 'and stores no job');
      assert.equal(await d.size('default'), 1);
    });

    it('four workers moving one cursor to the same occurrence at once: one wins, one job', { skip }, async () => {
      const first = await fresh();
      const drivers = await atOnce(first, 4);
      for (let minute = 0; minute < 5; minute += 1) {
        const at = AT + minute * 60_000;
        const won = await Promise.all(drivers.map((d) => d.schedules.advance(DIGEST, at, job('default', { label: String(minute) }))));
        assert.equal(won.filter(Boolean).length, 1, `minute ${minute}: ${JSON.stringify(won)}`);
      }
      assert.equal(await first.size('default'), 5);
    });

    it("a cursor per schedule; an occurrence's unique job that is a duplicate moves the cursor and stores nothing", { skip }, async () => {
      const d = await fresh();
      const other: ScheduleCursor = { name: 'heartbeat', queue: 'pings' };
      assert.equal(await d.schedules.advance(other, AT, job('pings')), true);
      assert.equal(await d.schedules.advance(DIGEST, AT, job('default')), true, 'another schedule, the same time');
      const hold = { key: 'Digest:all', until: 'done' } as const;
      assert.equal(await d.schedules.advance(DIGEST, AT + 1_000, job('default', { unique: hold })), true);
      const duplicate = job('default', { unique: hold });
      assert.equal(await d.schedules.advance(DIGEST, AT + 2_000, duplicate), true);
      assert.equal(await d.records.find(duplicate.id), undefined);
      assert.deepEqual((await d.schedules.states([DIGEST, other])).map((s) => [s.name, s.lastAt]), [[DIGEST.name, AT + 2_000], [other.name, AT]]);
      assert.equal(await d.size('default'), 2);
    });

    it('schedules added at run time and pauses are kept; removing one leaves a pause of a schedule in code', { skip }, async () => {
      const d = await fresh();
      assert.deepEqual(await d.schedules.settings(), []);
      await d.schedules.define('cleanup', '{"job":"Cleanup","every":"1h"}');
      await d.schedules.define('cleanup', '{"job":"Cleanup","every":"2h"}');
      await d.schedules.pause(DIGEST.name, true);
      const byName = async () => new Map((await d.schedules.settings()).map((s) => [s.name, s]));
      assert.deepEqual(await byName(), new Map([
        ['cleanup', { name: 'cleanup', definition: '{"job":"Cleanup","every":"2h"}', paused: false }],
        [DIGEST.name, { name: DIGEST.name, definition: null, paused: true }],
      ]));
      await d.schedules.pause('cleanup', true);
      assert.equal((await byName()).get('cleanup')?.paused, true);
      assert.equal(await d.schedules.undefine('cleanup'), true);
      assert.equal(await d.schedules.undefine('cleanup'), false);
      await d.schedules.pause(DIGEST.name, false);
      assert.deepEqual(await d.schedules.settings(), []);
    });
  });
}
