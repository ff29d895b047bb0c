import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnrecoverableError } from '../../src/errors.ts';
import { declaredSettings, durationMs, retentionOf, hasExceededTries, uniqueHold, type DeclaredStatics, resolveBackoff, retryDelaySeconds, settingsFor, shouldRetry, type JobDefaults, type JobSettings } from '../../src/jobs/settings.ts';
import { stopIfNecessary, type StopCheck } from '../../src/worker/stop.ts';

const defaults: JobDefaults = { maxTries: 3, timeout: 60, backoff: [0] };

describe('settingsFor', () => {
  it('uses what the job class declared over the worker defaults', () => {
    assert.deepEqual(settingsFor({ maxTries: 5, timeout: 10, backoff: [1, 2] }, defaults), { maxTries: 5, timeout: 10, backoff: [1, 2] });
  });

  it('falls back to the defaults for settings the class left null', () => {
    assert.deepEqual(settingsFor({ maxTries: null, timeout: null, backoff: null }, defaults), defaults);
    assert.deepEqual(settingsFor({ maxTries: 1, timeout: null, backoff: [30] }, defaults), { maxTries: 1, timeout: 60, backoff: [30] });
  });
});

describe('retry rules', () => {
  const settings: JobSettings = { maxTries: 3, timeout: 60, backoff: [10, 60] };

  it('retries an ordinary error while tries remain', () => {
    assert.equal(shouldRetry(new Error('flaky'), 1, settings), true);
    assert.equal(shouldRetry(new Error('flaky'), 2, settings), true);
  });

  it('does not retry once the last try has been used', () => {
    assert.equal(shouldRetry(new Error('flaky'), 3, settings), false);
    assert.equal(shouldRetry(new Error('flaky'), 4, settings), false);
  });

  it('never retries an UnrecoverableError, even on the first try', () => {
    assert.equal(shouldRetry(new UnrecoverableError('card declined'), 1, settings), false);
  });

  it('counts a reservation beyond maxTries as exceeded, but not the last allowed one', () => {
    assert.equal(hasExceededTries(3, settings), false);
    assert.equal(hasExceededTries(4, settings), true);
    assert.equal(hasExceededTries(1, { ...settings, maxTries: 1 }), false);
  });

  it('waits the backoff for the attempt that failed, repeating the last value', () => {
    assert.equal(retryDelaySeconds(1, settings), 10);
    assert.equal(retryDelaySeconds(2, settings), 60);
    assert.equal(retryDelaySeconds(5, settings), 60);
    assert.equal(retryDelaySeconds(1, { ...settings, backoff: [] }), 0);
  });
});

describe('stopIfNecessary', () => {
  const startedAt = 1_000_000;
  function check(changes: Partial<StopCheck> = {}): StopCheck {
    return { processed: 0, startedAt, now: startedAt + 1_000, rssBytes: 50 * 1024 * 1024, restartRequestedAt: null, startedAtBackend: startedAt, options: {}, ...changes };
  }

  it('carries on when nothing asks it to stop', () => {
    assert.equal(stopIfNecessary(check()), null);
    assert.equal(stopIfNecessary(check({ processed: 4, options: { maxJobs: 5, maxTime: 60, memory: 128 } })), null);
    assert.equal(stopIfNecessary(check({ options: { once: true } })), null);
  });

  it('stops with exit 0 for a restart requested after the worker started', () => {
    assert.deepEqual(pick(stopIfNecessary(check({ restartRequestedAt: startedAt + 500 }))), { code: 'restart', exitCode: 0 });
    assert.deepEqual(pick(stopIfNecessary(check({ restartRequestedAt: startedAt }))), { code: 'restart', exitCode: 0 });
  });

  it('ignores a restart requested before the worker started', () => {
    assert.equal(stopIfNecessary(check({ restartRequestedAt: startedAt - 1 })), null);
  });

  it('stops with exit 12 when memory is over the limit', () => {
    const reason = stopIfNecessary(check({ rssBytes: 200 * 1024 * 1024, options: { memory: 128 } }));
    assert.deepEqual(pick(reason), { code: 'memory', exitCode: 12 });
    assert.match(reason?.message ?? '', /200 MB.*128 MB/);
    assert.equal(stopIfNecessary(check({ rssBytes: 128 * 1024 * 1024, options: { memory: 128 } })), null);
  });

  it('stops after --max-jobs jobs', () => {
    assert.deepEqual(pick(stopIfNecessary(check({ processed: 5, options: { maxJobs: 5 } }))), { code: 'max-jobs', exitCode: 0 });
  });

  it('stops after one job with --once', () => {
    assert.deepEqual(pick(stopIfNecessary(check({ processed: 1, options: { once: true } }))), { code: 'once', exitCode: 0 });
  });

  it('stops after --max-time seconds', () => {
    assert.deepEqual(pick(stopIfNecessary(check({ now: startedAt + 60_000, options: { maxTime: 60 } }))), { code: 'max-time', exitCode: 0 });
    assert.equal(stopIfNecessary(check({ now: startedAt + 59_999, options: { maxTime: 60 } })), null);
  });

  it('puts a restart before the other reasons', () => {
    const reason = stopIfNecessary(check({ restartRequestedAt: startedAt, processed: 9, rssBytes: 1e12, options: { maxJobs: 1, memory: 1, once: true } }));
    assert.equal(reason?.code, 'restart');
  });
});

function pick(reason: ReturnType<typeof stopIfNecessary>): { code: string; exitCode: number } | null {
  return reason && { code: reason.code, exitCode: reason.exitCode };
}

describe('resolveBackoff', () => {
  it('turns a number into a one-step list', () => {
    assert.deepEqual(resolveBackoff(5, 3), [5]);
  });

  it('copies a list, so later changes to the class do not leak in', () => {
    const steps = [1, 2, 3];
    const resolved = resolveBackoff(steps, 4);
    assert.deepEqual(resolved, [1, 2, 3]);
    steps.push(99);
    assert.deepEqual(resolved, [1, 2, 3]);
  });

  it('evaluates a function once for each of the maxTries - 1 retries', () => {
    const calls: number[] = [];
    const resolved = resolveBackoff((attempt) => { calls.push(attempt); return attempt * 10; }, 4);
    assert.deepEqual(resolved, [10, 20, 30]);
    assert.deepEqual(calls, [1, 2, 3]);
  });

  it('evaluates a function for the default 3 tries when maxTries is not declared', () => {
    assert.deepEqual(resolveBackoff((attempt) => attempt, undefined), [1, 2]);
  });

  it('returns null when the class declares no backoff', () => {
    assert.equal(resolveBackoff(undefined, 3), null);
  });
});

describe('retryDelaySeconds', () => {
  it('uses one value per retry and repeats the last', () => {
    const steps = [10, 60, 300];
    assert.deepEqual([1, 2, 3, 4, 10].map((attempt) => retryDelaySeconds(attempt, { ...defaults, backoff: steps })), [10, 60, 300, 300, 300]);
  });

  it('returns 0 for an empty list', () => {
    assert.equal(retryDelaySeconds(1, { ...defaults, backoff: [] }), 0);
    assert.equal(retryDelaySeconds(5, { ...defaults, backoff: [] }), 0);
  });
});

describe('retention of finished records', () => {
  it('reads durations as people write them, and refuses anything else naming where', () => {
    assert.equal(durationMs(90, 'x'), 90_000);
    assert.equal(durationMs('90s', 'x'), 90_000);
    assert.equal(durationMs('30m', 'x'), 1_800_000);
    assert.equal(durationMs('1.5h', 'x'), 5_400_000);
    assert.equal(durationMs('2d', 'x'), 172_800_000);
    assert.equal(durationMs('1w', 'x'), 604_800_000);
    for (const bad of ['1 year', '-5m', 'h', '', null, -1, Number.NaN]) {
      assert.throws(() => durationMs(bad, 'keep.completed'), /keep\.completed must be seconds or a duration like '90s'/);
    }
  });

  it("the class's keep wins, then the connection's, then an hour and 1,000 per queue; false keeps none", () => {
    assert.deepEqual(retentionOf(undefined, undefined, 'X'), { keepMs: 3_600_000, maxPerQueue: 1_000 });
    assert.deepEqual(retentionOf(undefined, { completed: '1d' }, 'X'), { keepMs: 86_400_000, maxPerQueue: 1_000 });
    assert.deepEqual(retentionOf({ count: 10 }, { completed: '1d', count: 50 }, 'X'), { keepMs: 86_400_000, maxPerQueue: 10 });
    assert.equal(retentionOf(false, { completed: '1d' }, 'X'), null);
    assert.equal(retentionOf(undefined, false, 'X'), null);
    assert.deepEqual(retentionOf({ completed: 60 }, false, 'X'), { keepMs: 60_000, maxPerQueue: 1_000 }, 'a class may keep what its connection does not');
    assert.throws(() => retentionOf({ count: -1 }, undefined, 'Report'), /Report: keep.count must be a whole number/);
    assert.throws(() => retentionOf('yes' as never, undefined, 'Report'), /Report: keep must be false or \{ completed, count \}/);
  });
});

describe('priority, unique and expiry settings of a class', () => {
  const declare = (statics: DeclaredStatics) => declaredSettings(Object.assign(class {}, statics), 'Digest');

  it('reads priority, expireAfter (as ms) and unique, and refuses what is not one, naming the job', () => {
    const key = (job: { list: string }) => job.list;
    assert.deepEqual(
      { ...declare({ priority: -5, expireAfter: '10m', unique: { key } }), from: undefined },
      { from: undefined, queue: 'default', maxTries: null, timeout: null, backoff: null, priority: -5, expireAfterMs: 600_000, unique: { key } },
    );
    assert.throws(() => declare({ priority: 2.5 }), /^QueueError: Digest: priority must be a whole number from -1000000 to 1000000, got 2.5$/);
    assert.throws(() => declare({ expireAfter: 'soon' as never }), /Digest: expireAfter must be seconds or a duration/);
    assert.throws(() => declare({ unique: { key: 'list' } as never }), /Digest: unique must be \{ key: \(job\) => string/);
    assert.throws(() => declare({ unique: { key, until: 'end' as never } }), /Digest: unique.until must be 'start' or 'done', got "end"/);
    assert.throws(() => declare({ unique: { key, onDuplicate: 'merge' as never } }), /Digest: unique.onDuplicate must be 'ignore' or 'replace'/);
    assert.throws(() => declare({ unique: { key, for: -1 } }), /Digest: unique.for must be seconds or a duration/);
  });

  it('a unique hold is scoped to the job name, hashed when too long, and its key must be a non-empty string', () => {
    const rule = { key: (job: { list: string }) => job.list };
    assert.deepEqual(uniqueHold(rule, { list: 'all' }, 'Digest'), { key: 'Digest:all', until: 'done' });
    assert.deepEqual(uniqueHold({ ...rule, until: 'start', for: '1h', onDuplicate: 'replace' }, { list: 'all' }, 'Digest'), { key: 'Digest:all', until: 'start', forMs: 3_600_000, replace: true });
    const long = uniqueHold(rule, { list: 'x'.repeat(300) }, 'Digest');
    assert.match(long.key, /^Digest:sha256:[0-9a-f]{64}$/);
    assert.notEqual(uniqueHold(rule, { list: 'y'.repeat(300) }, 'Digest').key, long.key);
    assert.throws(() => uniqueHold(rule, { list: '' }, 'Digest'), /Digest: unique.key\(job\) must return a non-empty string, got ""/);
    assert.throws(() => uniqueHold({ key: () => { throw new Error('no list'); } }, {}, 'Digest'), /Digest: unique.key\(job\) threw: no list/);
  });
});
