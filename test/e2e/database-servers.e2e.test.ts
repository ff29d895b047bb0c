/**
 * The database driver on real MariaDB and PostgreSQL servers: many workers draining one table,
 * workers SIGKILLed mid-job, rows written by hand, large payloads, and (MariaDB) the server itself
 * restarted under running workers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';

import { DatabaseDriver } from '../../src/drivers/database/DatabaseDriver.ts';
import { tableNames } from '../../src/drivers/database/schema.ts';
import { mysqlDialect } from '../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../src/drivers/database/dialects/postgres.ts';
import { everyTable, MYSQL_URL, POSTGRES_URL, serverDatabaseConfig, skipReason, serverDatabaseBackend } from '../helpers/backends.ts';
import { privateMariaDb } from '../helpers/servers.ts';
import { storedJob } from '../helpers/stored.ts';
import { dispatchMany, logLines, managerFor, records, run, start, testEnv, trackedRuns as runs, untilRecords, type Running, type TestEnv } from '../helpers/cli.ts';

type Client = 'mysql' | 'postgres';

const created: { client: Client; table: string }[] = [];

/** A test environment on its own tables of a real server (the shared one, or `url`), migrated through the CLI. */
async function serverEnv(client: Client, extra: Record<string, string> = {}, url?: string): Promise<TestEnv> {
  const table = `e2e_${randomUUID().slice(0, 8)}`;
  if (!url) created.push({ client, table });
  const t = testEnv({
    DB_CONNECTION: client,
    DATABASE_URL: url ?? (client === 'mysql' ? MYSQL_URL : POSTGRES_URL),
    DB_QUEUE_TABLE: `${table}_jobs`,
    DB_FAILED_TABLE: `${table}_failed`,
    // Above the 16 MiB default limit: the 16 MB test is about what the columns hold.
    QUEUE_MAX_PAYLOAD_BYTES: String(64 * 1024 * 1024),
    ...extra,
  });
  const migrated = await run(['migrate'], t);
  assert.equal(migrated.code, 0, migrated.stderr);
  return t;
}

after(async () => {
  for (const { client, table } of created) {
    const db = (client === 'mysql' ? mysqlDialect(serverDatabaseConfig(client)) : postgresDialect(serverDatabaseConfig(client), () => {})).connect();
    try {
      for (const name of everyTable(tableNames({ table: `${table}_jobs`, failedTable: `${table}_failed` }))) {
        await db.schema.dropTable(name).ifExists().execute();
      }
    } finally {
      await db.destroy();
    }
  }
});

for (const client of ['mysql', 'postgres'] as const) {
  const name = client === 'mysql' ? 'MariaDB' : 'PostgreSQL';
  const skip = await skipReason(serverDatabaseBackend(client));

  describe(`database driver on ${name}`, { skip }, () => {
    it('4 worker processes drain 5,000 jobs: every job ran exactly once', async () => {
      const t = await serverEnv(client);
      const ids = await dispatchMany(t, 'Record.ts', 5000);
      const workers = Array.from({ length: 4 }, () => start(['work', '--concurrency', '8', '--stop-when-empty', '--sleep', '0.2'], t));
      const results = await Promise.all(workers.map((w) => w.done));
      for (const result of results) assert.equal(result.code, 0, result.stderr);
      const ran = records(t).map((line) => line.split(' ')[0]!);
      assert.equal(ran.length, 5000, 'no job ran twice, none was skipped');
      assert.deepEqual(new Set(ran), new Set(ids));
      const perWorker = results.map((r) => logLines(r.stdout).filter((l) => l.outcome === 'done').length);
      assert.ok(perWorker.filter((n) => n > 0).length >= 2, `the work was shared: ${perWorker.join(', ')}`);
    });

    it('a worker SIGKILLed mid-job: the job runs again after its lease; nothing lost', async () => {
      const t = await serverEnv(client);
      const [id] = await dispatchMany(t, 'Tracked.ts', 1, { ms: 30_000 });
      const [other] = await dispatchMany(t, 'Record.ts', 1);
      const first = start(['work'], t);
      await untilRecords(t, (lines) => lines.some((line) => line.startsWith('start')));
      first.child.kill('SIGKILL');
      await first.done;
      const second = start(['work', '--sleep', '0.3'], t);
      await untilRecords(t, (lines) => lines.filter((line) => line.startsWith('start')).length === 2, 20_000);
      second.child.kill('SIGINT');
      second.child.kill('SIGINT');
      await second.done;
      const { starts } = runs(t);
      assert.equal(starts.get(id!)?.length, 2, 'started again by the second worker');
      assert.ok(records(t).some((line) => line.startsWith(`${other} `)), 'the other job ran too');
    });

    it('rows written by hand with bad JSON or an unknown job go to failed storage with the reason', async () => {
      const t = await serverEnv(client);
      const [good] = await dispatchMany(t, 'Record.ts', 1);
      const driver = new DatabaseDriver('database', client === 'mysql' ? mysqlDialect(serverDatabaseConfig(client)) : postgresDialect(serverDatabaseConfig(client), () => {}), tableNames({ table: t.env.DB_QUEUE_TABLE!, failedTable: t.env.DB_FAILED_TABLE! }), { autoMigrate: false });
      const unknown = JSON.stringify({ v: 1, id: randomUUID(), job: 'NoSuchJob', queue: 'default', data: {}, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: 0 });
      await driver.push([
        { id: randomUUID(), queue: 'default', payload: '{not json', delayMs: 0, timeoutMs: null },
        { id: randomUUID(), queue: 'default', payload: unknown, delayMs: 0, timeoutMs: null },
      ]);
      await driver.close();
      const result = await run(['work', '--stop-when-empty'], t);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(records(t).map((line) => line.split(' ')[0]), [good]);
      const failed: { error: string; payload: string }[] = JSON.parse((await run(['failed:list', '--json'], t)).stdout);
      assert.equal(failed.length, 2);
      assert.ok(failed.some((f) => /invalid payload: payload is not JSON/.test(f.error) && f.payload === '{not json'));
      assert.ok(failed.some((f) => /unknown job 'NoSuchJob'/.test(f.error)));
    });

    it('a 16 MB payload is stored and handed back whole', async () => {
      // MariaDB's max_allowed_packet (16 MB by default) caps one statement: a server of the test's
      // own allows more, rather than changing the shared one.
      const server = client === 'mysql' ? await privateMariaDb(['--max-allowed-packet=64M']) : undefined;
      try {
        const t = await serverEnv(client, {}, server && `mysql://root@127.0.0.1:${server.port}/test`);
        const label = 'x'.repeat(16 * 1024 * 1024);
        const [id] = await dispatchMany(t, 'Record.ts', 1, { label });
        const manager = await managerFor(t);
        const driver = await manager.driver();
        const [reservation] = await driver.reserve(['default'], { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 });
        assert.ok(reservation);
        assert.ok(reservation.payload.length > 16 * 1024 * 1024);
        assert.equal(JSON.parse(reservation.payload).data.label.length, label.length);
        assert.equal(JSON.parse(reservation.payload).id, id);
        assert.equal(await driver.ack(reservation), true);
        await manager.close();
      } finally {
        await server?.cleanup();
      }
    });

    it('the password in DATABASE_URL never reaches output, even when the server is unreachable', async () => {
      const secret = `Pw${randomUUID().slice(0, 8)}`;
      const url = client === 'mysql' ? `mysql://root:${secret}@127.0.0.1:3399/test` : `postgres://postgres:${secret}@127.0.0.1:5499/test`;
      const t = testEnv({ DB_CONNECTION: client, DATABASE_URL: url });
      const results = await Promise.all([run(['dispatch', 'Record'], t), run(['status'], t), run(['work', '--max-time', '2', '--sleep', '0.2'], t)]);
      for (const result of results) assert.ok(!(result.stdout + result.stderr).includes(secret), 'no password in the output');
      assert.equal(results[0]!.code, 1);
      assert.match(results[0]!.stderr, new RegExp(`cannot push jobs on ${client} connection 'database' \\(127\\.0\\.0\\.1:(3399|5499)\\): .*ECONNREFUSED`));
      assert.match(results[2]!.stdout, /cannot (read which queues are paused|reserve jobs)/, 'the worker logged the outage and kept going');
      assert.equal(results[2]!.code, 0, 'and stopped at --max-time as asked');
    });
  });
}

describe('MariaDB of the test\'s own', { skip: await skipReason(serverDatabaseBackend('mysql')) }, () => {
  it('restarted under running workers: all 2,000 jobs run, none lost; a job in flight at the restart runs at most once more', async () => {
    const server = await privateMariaDb();
    try {
      const t = await serverEnv('mysql', {}, `mysql://root@127.0.0.1:${server.port}/test`);
      const ids = await dispatchMany(t, 'Tracked.ts', 2000, { ms: 10 });
      const workers: Running[] = Array.from({ length: 2 }, () => start(['work', '--concurrency', '4', '--sleep', '0.2'], t));
      await untilRecords(t, (lines) => lines.length >= 200);
      await server.stop();
      await sleep(2000);
      await server.start();
      await untilRecords(t, () => runs(t).ends.size >= ids.length, 120_000);
      for (const worker of workers) worker.child.kill('SIGTERM');
      const results = await Promise.all(workers.map((w) => w.done));
      for (const result of results) assert.equal(result.code, 0, 'the workers survived the restart');
      const { starts, ends } = runs(t);
      assert.equal(ids.filter((id) => ends.has(id)).length, 2000, 'every job ran to its end');
      const twice = [...starts.values()].filter((pids) => pids.length === 2).length;
      const more = [...starts.values()].filter((pids) => pids.length > 2).length;
      assert.equal(more, 0, 'no job ran more than once more');
      assert.ok(results.some((r) => /cannot (reserve jobs|read which queues are paused|acknowledge a job)/.test(r.stdout)), 'the outage was logged');
      console.log(`# MariaDB restart: ${twice} jobs ran twice (in flight at the restart), all 2000 done`);
    } finally {
      await server.cleanup();
    }
  });

  it('a bulk dispatch larger than max_allowed_packet is stored whole; a single job over it is refused with one clear line, and the next dispatch works', async () => {
    const server = await privateMariaDb(['--max-allowed-packet=8M']);
    try {
      const t = await serverEnv('mysql', {}, `mysql://root@127.0.0.1:${server.port}/test`);
      const manager = await managerFor(t);
      try {
        const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
        const job = (label: string) => Object.assign(new Record(), { label });
        // Four jobs of 3 MB: 12 MB in all, over the 8 MB a statement may carry.
        const ids = (await manager.push(Array.from({ length: 4 }, (_, i) => job(String(i).repeat(3 * 1024 * 1024))))).map((pushed) => pushed.id);
        const driver = await manager.driver();
        assert.equal(await driver.size('default'), 4, 'all four stored');
        await assert.rejects(manager.push([job('x'.repeat(9 * 1024 * 1024))]), (error: Error) => {
          assert.match(error.message, /^job [0-9a-f-]{36} is \d+ bytes as sent, over what one statement may carry on mysql connection 'database' \(127\.0\.0\.1:\d+: max_allowed_packet is 8388608\); raise max_allowed_packet on the server, or lower QUEUE_MAX_PAYLOAD_BYTES to match$/);
          return true;
        });
        assert.equal(await driver.size('default'), 4, 'nothing of the refused one was stored');
        await manager.push([job('small')]);
        assert.equal(await driver.size('default'), 5, 'the next small dispatch works');
        const taken = await driver.reserve(['default'], { count: 10, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 });
        assert.deepEqual(taken.slice(0, 4).map((r) => JSON.parse(r.payload).id), ids);
      } finally {
        await manager.close();
      }
    } finally {
      await server.cleanup();
    }
  });
});

describe('PostgreSQL prepared statements', { skip: await skipReason(serverDatabaseBackend('postgres')) }, () => {
  it('a named statement the server has forgotten (a pooler that swapped connections) runs again unnamed; nothing is lost or run twice', async () => {
    const table = `e2e_${randomUUID().slice(0, 8)}`;
    created.push({ client: 'postgres', table });
    const tables = tableNames({ table: `${table}_jobs`, failedTable: `${table}_failed` });
    // One connection, so the DEALLOCATE below reaches the session that prepared the statements.
    const driver = new DatabaseDriver('database', postgresDialect({ ...serverDatabaseConfig('postgres'), pool: 1 }, () => {}), tables, { autoMigrate: false });
    try {
      await driver.migrate();
      await driver.push([storedJob(), storedJob(), storedJob()]);
      const lease = { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };
      const [first] = await driver.reserve(['default'], lease);
      assert.equal(await driver.ack(first!), true);
      const db = (driver as unknown as { db: Kysely<unknown> }).db;
      await sql`deallocate all`.execute(db);
      const [second] = await driver.reserve(['default'], lease);
      assert.ok(second, 'the claim ran again, unnamed');
      assert.equal(await driver.ack(second), true);
      const [third] = await driver.reserve(['default'], lease);
      assert.equal(await driver.ack(third!), true);
      assert.equal(await driver.size('default'), 0);
      assert.deepEqual(await driver.reserve(['default'], lease), []);
    } finally {
      await driver.close();
    }
  });
});
