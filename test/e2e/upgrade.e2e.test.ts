/**
 * Upgrading to job records (SPEC 11): jobs and failed records stored by the release before it, in its
 * table and key layout, are all run exactly once by a worker of this release (after `queue migrate`
 * on SQL), and each then has its record; the old failed record can still be listed and retried.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { StoredJob } from '../../src/contract/driver.ts';
import type { SqlDialect } from '../../src/drivers/database/dialects/dialect.ts';
import { mysqlDialect } from '../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../src/drivers/database/dialects/postgres.ts';
import { sqliteDialect } from '../../src/drivers/database/dialects/sqlite.ts';
import { migrate } from '../../src/drivers/database/migrations.ts';
import { tableNames, type Tables } from '../../src/drivers/database/schema.ts';
import { insertJobs } from '../../src/drivers/database/sql/insertJobs.ts';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../src/jobs/envelope.ts';
import { serverDatabaseConfig } from '../helpers/backends.ts';
import { e2eBackends, ranIds, run, runOk, testEnv, type TestEnv } from '../helpers/cli.ts';

/** The last migration of the release before job records. */
const PREVIOUS_RELEASE = '002_unique_job_ids';

function envelope(id: string, label: string): string {
  return encodeEnvelope({ v: ENVELOPE_VERSION, id, job: 'Record', queue: 'default', data: { label }, attempts: 0, maxTries: null, timeout: null, backoff: null, createdAt: Date.now() });
}

interface OldData {
  jobs: StoredJob[];
  failedId: string;
}

function oldData(): OldData {
  const ids = Array.from({ length: 4 }, () => randomUUID());
  return {
    jobs: ids.map((id, i) => ({ id, queue: 'default', payload: envelope(id, `old-${i}`), delayMs: i === 3 ? 500 : 0, timeoutMs: null })),
    failedId: randomUUID(),
  };
}

/** The tables as the previous release made them, and its rows: pushed jobs (one delayed) and a failed record. */
async function writeSql(dialect: SqlDialect, t: TestEnv, data: OldData): Promise<void> {
  const db = dialect.connect() as Kysely<Tables>;
  try {
    const tables = tableNames({ table: t.env.DB_QUEUE_TABLE, failedTable: t.env.DB_FAILED_TABLE });
    await migrate(db, tables, dialect, PREVIOUS_RELEASE);
    await insertJobs(db, tables.jobs, data.jobs, dialect, 'database');
    await db.insertInto(tables.failed as 'queue_failed_jobs').values({
      id: data.failedId, connection: 'database', queue: 'default', job: 'Record', payload: envelope(data.failedId, 'old-failed'), exception: 'Error: boom', failed_at: Date.now(),
    }).execute();
  } finally {
    await db.destroy();
  }
}

/** The keys as the previous release's push.lua and fail.lua wrote them. */
async function writeRedis(t: TestEnv, data: OldData): Promise<void> {
  const redis = new Redis(t.env.REDIS_URL!);
  const key = (name: string) => `${t.env.REDIS_PREFIX}:{default}:${name}`;
  try {
    const [ready, delayed] = [data.jobs.filter((j) => j.delayMs === 0), data.jobs.filter((j) => j.delayMs > 0)];
    await redis.sadd(`${t.env.REDIS_PREFIX}:queues`, 'default');
    await redis.hset(key('jobs'), ...data.jobs.flatMap((j) => [j.id, j.payload]));
    await redis.rpush(key('ready'), ...ready.map((j) => j.id));
    await redis.zadd(key('delayed'), ...delayed.flatMap((j) => [Date.now() + j.delayMs, j.id]));
    await redis.hset(key('failed'), data.failedId, JSON.stringify({ connection: 'redis', queue: 'default', job: 'Record', payload: envelope(data.failedId, 'old-failed'), error: 'Error: boom' }));
    await redis.zadd(key('failed_at'), Date.now(), data.failedId);
  } finally {
    redis.disconnect();
  }
}

const dropped: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of dropped) await drop();
});

/** An environment on tables of its own that nothing has migrated yet. */
function unmigrated(client: 'mysql' | 'postgres'): TestEnv {
  const base = `up_${randomUUID().slice(0, 8)}`;
  const config = serverDatabaseConfig(client);
  const t = testEnv({ QUEUE_CONNECTION: 'database', DB_CONNECTION: client, DATABASE_URL: config.url!, DB_QUEUE_TABLE: `${base}_jobs`, DB_FAILED_TABLE: `${base}_failed` });
  dropped.push(async () => {
    const db = (client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {})).connect();
    try {
      for (const name of ['jobs', 'failed', 'signals', 'schedules', 'workers', 'metrics', 'jobs_migrations', 'jobs_migrations_lock']) await db.schema.dropTable(`${base}_${name}`).ifExists().execute();
    } finally {
      await db.destroy();
    }
  });
  return t;
}

for (const backend of await e2eBackends()) {
  describe(`upgrading to job records (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it("the previous release's jobs run once each and get records; its failed record can be retried", async () => {
      const data = oldData();
      let t: TestEnv;
      if (backend.name === 'redis') {
        t = backend.env();
        await writeRedis(t, data);
      } else if (backend.name === 'sqlite') {
        t = backend.env();
        await writeSql(sqliteDialect(t.env.DB_DATABASE!), t, data);
      } else {
        const client = backend.name === 'mariadb' ? 'mysql' : 'postgres';
        t = unmigrated(client);
        await writeSql(client === 'mysql' ? mysqlDialect(serverDatabaseConfig(client)) : postgresDialect(serverDatabaseConfig(client), () => {}), t, data);
        const before = await run(['status'], t);
        assert.notEqual(before.code, 0, 'a worker of the new release needs the migration first');
        assert.match(before.stderr, /^error: the queue tables of connection 'database' do not exist, or an earlier release made them; run `queue migrate`$/m);
      }
      // SQLite migrates on first use; MySQL and PostgreSQL need `queue migrate`.
      assert.match((await runOk(['migrate'], t)).stdout, { redis: /keeps no tables: nothing to migrate/, sqlite: /nothing to migrate/, mariadb: /applied: 003_job_records/, postgres: /applied: 003_job_records/ }[backend.name]);

      const waiting = JSON.parse((await runOk(['show', data.jobs[0]!.id, '--json'], t)).stdout);
      assert.equal(waiting.state, 'ready');
      await new Promise((resolve) => setTimeout(resolve, 600));
      await runOk(['work', '--stop-when-empty'], t);
      assert.deepEqual(ranIds(t).sort(), data.jobs.map((j) => j.id).sort(), 'every old job ran, once');
      for (const job of data.jobs) assert.equal(JSON.parse((await runOk(['show', job.id, '--json'], t)).stdout).state, 'completed');

      const failed = JSON.parse((await runOk(['show', data.failedId, '--json'], t)).stdout);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error, 'Error: boom');
      await runOk(['retry', data.failedId], t);
      await runOk(['work', '--stop-when-empty'], t);
      assert.equal(ranIds(t).filter((id) => id === data.failedId).length, 1, 'the old failed job ran once after its retry');
      assert.equal(JSON.parse((await runOk(['show', data.failedId, '--json'], t)).stdout).state, 'completed');
    });
  });
}

/** A place in the previous release's `prioritized` zset: (1,000,000 - priority) * 2^32 + its FIFO number. */
const placeOf = (priority: number, fifo: number) => (1_000_000 - priority) * 2 ** 32 + fifo;

const redisE2E = (await e2eBackends()).find((b) => b.name === 'redis')!;
describe('upgrading from placed priorities (redis)', { skip: redisE2E.skip }, () => {
  after(() => redisE2E.cleanup());

  it("the previous release's jobs of a priority run in its order, before newer ones of theirs, and are counted and listed meanwhile", async () => {
    const t = redisE2E.env();
    const job = (label: string) => {
      const id = randomUUID();
      return { id, label, payload: envelope(id, label) };
    };
    // Waiting in `prioritized` by the old layout: priority 1,000,000 (a place below 2^32), two of 5
    // in FIFO order, one of -2; one plain job in `ready`; one delayed of 9 with its place only in
    // `priorities`.
    const top = job('old-top'), firstFive = job('old-5a'), secondFive = job('old-5b'), negative = job('old-neg'), plain = job('old-plain'), later = job('old-later-9');
    const placed: [typeof top, number][] = [[secondFive, placeOf(5, 3)], [top, placeOf(1_000_000, 4)], [firstFive, placeOf(5, 2)], [negative, placeOf(-2, 1)]];
    const redis = new Redis(t.env.REDIS_URL!);
    const key = (name: string) => `${t.env.REDIS_PREFIX}:{default}:${name}`;
    const laterDue = Date.now() + 2_000;
    try {
      const all = [top, firstFive, secondFive, negative, plain, later];
      await redis.sadd(`${t.env.REDIS_PREFIX}:queues`, 'default');
      await redis.hset(key('jobs'), ...all.flatMap((j) => [j.id, j.payload]));
      await redis.zadd(key('prioritized'), ...placed.flatMap(([j, place]) => [place, j.id]));
      await redis.hset(key('priorities'), ...placed.flatMap(([j, place]) => [j.id, String(place)]), later.id, String(placeOf(9, 5)));
      await redis.set(key('sequence'), '5');
      await redis.rpush(key('ready'), plain.id);
      await redis.zadd(key('delayed'), laterDue, later.id);
    } finally {
      redis.disconnect();
    }
    // A job of priority 5 dispatched by this release, after the old ones.
    const newFive = (await runOk(['dispatch', 'Record', '--data', '{"label":"new-5"}', '--priority', '5'], t)).stdout.trim();

    const { queues } = JSON.parse((await runOk(['status', '--json'], t)).stdout) as { queues: { queue: string; ready: number; delayed: number }[] };
    assert.deepEqual(queues.filter((q) => q.queue === 'default').map((q) => [q.ready, q.delayed]), [[6, 1]], 'the old placed jobs count as ready beside the new one and the plain one');
    const { jobs: listed } = JSON.parse((await runOk(['list', '--state', 'ready', '--json'], t)).stdout) as { jobs: { id: string }[] };
    assert.deepEqual(new Set(listed.map((r) => r.id)), new Set([top.id, firstFive.id, secondFive.id, negative.id, plain.id, newFive]));

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, laterDue - Date.now() + 100)));
    await runOk(['work', '--stop-when-empty', '--concurrency', '1'], t);
    const labels = new Map<string, string>([top, firstFive, secondFive, negative, plain, later].map((j) => [j.id, j.label]));
    labels.set(newFive, 'new-5');
    assert.deepEqual(ranIds(t).map((id) => labels.get(id)), ['old-top', 'old-later-9', 'old-5a', 'old-5b', 'new-5', 'old-plain', 'old-neg']);
  });
});
