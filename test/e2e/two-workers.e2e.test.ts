/** Two worker processes on one storage (an SQLite file, a Redis prefix): every job runs, none twice. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { dispatchMany, e2eBackends, ranIds, run, start, testEnv } from '../helpers/cli.ts';

for (const backend of await e2eBackends()) {
  describe(`two workers on one storage (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('process 2,000 jobs with none run twice and none lost', async () => {
      const t = backend.env();
      const ids = await dispatchMany(t, 'Record.ts', 2000);
      const workers = [start(['work', '--stop-when-empty', '--sleep', '0.1', '--concurrency', '4'], t), start(['work', '--stop-when-empty', '--sleep', '0.1'], t)];
      const results = await Promise.all(workers.map((w) => w.done));
      for (const result of results) assert.equal(result.code, 0, result.stderr);
      const ran = ranIds(t);
      assert.equal(ran.length, 2000, 'every job ran once: no more, no less');
      assert.deepEqual(new Set(ran), new Set(ids));
      const perWorker = results.map((r) => (r.stdout.match(/"outcome":"done"/g) ?? []).length);
      assert.ok(perWorker.every((n) => n > 0), `both workers took jobs: ${perWorker.join(' + ')}`);
    });
  });
}

describe('processes opening a new SQLite file at once', () => {
  it('each finds the tables: the first migrates, the others wait for it and apply nothing twice', async () => {
    // The file is migrated on first use. Before the migration ran in one write transaction, six
    // processes at once failed with a UNIQUE error on the migrations table in about one round of five.
    for (let round = 0; round < 10; round++) {
      const t = testEnv({}, 'sqlite');
      const results = await Promise.all(Array.from({ length: 6 }, () => run(['failed:show', 'no-such-id'], t)));
      for (const result of results) assert.match(result.stderr, /^error: no failed job with id no-such-id/, result.stderr);
    }
  });
});
