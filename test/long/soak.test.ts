/**
 * Soak: 4 workers under the shipped supervisord program (--concurrency 4), 20,000 jobs of mixed
 * kinds (a third each of priority 5, 0 and -1), and a worker SIGKILLed every 2 seconds while they
 * run, on SQLite, Redis, MariaDB and PostgreSQL. At the end every job is done or in failed storage
 * with its reason, none is lost, every job that ran more than once was explained (by its own failed
 * attempts, or because it was in flight in a process that was killed: by the test, or by its own
 * watchdog when a job blocked the event loop), and failed() ran exactly once for each failed job.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { mysqlDialect } from '../../src/drivers/database/dialects/mysql.ts';
import { postgresDialect } from '../../src/drivers/database/dialects/postgres.ts';
import type { FailedJob } from '../../src/contract/driver.ts';
import type { SoakKind } from '../fixtures/project/app/jobs/Soak.ts';
import { deleteRedisPrefix, MYSQL_URL, POSTGRES_URL, REDIS_URL, redisBackend, serverDatabaseBackend, serverDatabaseConfig, skipReason } from '../helpers/backends.ts';
import { managerFor, records, runOk, testEnv, type TestEnv } from '../helpers/cli.ts';
import { dispatchTo, queueState, runsOf, startSupervisor, supervisordSkip, type Run, type Supervisor } from '../helpers/supervisord.ts';

/** SOAK_JOBS runs a shorter (or longer) soak by hand; the suite runs 20,000. */
const TOTAL = Number(process.env.SOAK_JOBS ?? 20_000);
/** How many of each kind; the rest are fast. */
const MIX: Record<Exclude<SoakKind, 'fast'>, number> = { slow: 400, fail: 200, timeout: 40, block: 3 };
const QUEUE = 'soak';
const KILL_EVERY_MS = 2_000;
const GIVE_UP_MS = 4 * 60_000;
/** A killed job's lease (Soak's timeout 1 s + this margin) runs out quickly. Only warnings are logged. */
const ENV = { QUEUE_LEASE_MARGIN: '2', QUEUE_LOG_LEVEL: 'warn' };

const REASONS = {
  threw: /Soak: fail job fails on every attempt/,
  'timed out': /JobTimeoutError: job timed out after 1s/,
  attempted: /attempted \d+ times, more than maxTries 3/,
};
type Reason = keyof typeof REASONS;

interface SoakBackend {
  name: string;
  skip: string | undefined;
  env(): Promise<TestEnv>;
  cleanup(): Promise<void>;
}

const redisPrefixes: string[] = [];

/** A soak on its own tables of the shared MariaDB or PostgreSQL server. */
function serverDatabase(name: string, client: 'mysql' | 'postgres', url: string, skip: string | undefined): SoakBackend {
  const tables: string[] = [];
  return {
    name,
    skip,
    async env() {
      const table = `soak_${randomUUID().slice(0, 8)}`;
      tables.push(table);
      const t = testEnv({ ...ENV, DB_CONNECTION: client, DATABASE_URL: url, DB_QUEUE_TABLE: `${table}_jobs`, DB_FAILED_TABLE: `${table}_failed` });
      await runOk(['migrate'], t);
      return t;
    },
    async cleanup() {
      const config = serverDatabaseConfig(client);
      const db = (client === 'mysql' ? mysqlDialect(config) : postgresDialect(config, () => {})).connect();
      try {
        for (const table of tables.splice(0)) {
          for (const name of ['jobs', 'failed', 'signals', 'jobs_migrations', 'jobs_migrations_lock']) await db.schema.dropTable(`${table}_${name}`).ifExists().execute();
        }
      } finally {
        await db.destroy();
      }
    },
  };
}

const backends: SoakBackend[] = [
  { name: 'sqlite', skip: undefined, env: async () => testEnv(ENV, 'sqlite'), cleanup: async () => {} },
  {
    name: 'redis',
    skip: await skipReason(redisBackend()),
    async env() {
      const prefix = `soak-${randomUUID()}`;
      redisPrefixes.push(prefix);
      return testEnv({ ...ENV, QUEUE_CONNECTION: 'redis', REDIS_URL, REDIS_PREFIX: prefix });
    },
    async cleanup() {
      for (const prefix of redisPrefixes.splice(0)) await deleteRedisPrefix(prefix);
    },
  },
  serverDatabase('mariadb', 'mysql', MYSQL_URL, await skipReason(serverDatabaseBackend('mysql'))),
  serverDatabase('postgres', 'postgres', POSTGRES_URL, await skipReason(serverDatabaseBackend('postgres'))),
];

/** Every third job is dispatched at each of these priorities, so killed jobs come back to their priority's place on each backend. */
const PRIORITIES = [5, 0, -1];

/** Dispatches the jobs of `kinds` (job i gets ref i), a third at each of PRIORITIES; returns their ids by number. */
async function dispatchMixed(t: TestEnv, kinds: SoakKind[]): Promise<string[]> {
  const ids: string[] = new Array(kinds.length);
  for (const [group, priority] of PRIORITIES.entries()) {
    const numbers = kinds.map((_, i) => i).filter((i) => i % PRIORITIES.length === group);
    const got = await dispatchTo(t, QUEUE, 'Soak.ts', numbers.map((i) => ({ kind: kinds[i], ref: String(i) })), { priority });
    numbers.forEach((i, k) => (ids[i] = got[k]!));
  }
  return ids;
}

/** The kinds of the TOTAL jobs, shuffled. */
function mixedKinds(): SoakKind[] {
  const kinds: SoakKind[] = Object.entries(MIX).flatMap(([kind, count]) => Array<SoakKind>(count).fill(kind as SoakKind));
  kinds.push(...Array<SoakKind>(TOTAL - kinds.length).fill('fast'));
  for (let i = kinds.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

/** Waits for the queue to drain, SIGKILLing a random running worker every KILL_EVERY_MS; returns the pids killed, with when. */
async function drainUnderKills(t: TestEnv, sv: Supervisor, startedAt: number): Promise<Map<number, number>> {
  const killed = new Map<number, number>();
  const manager = await managerFor(t);
  try {
    const driver = await manager.driver();
    let nextKill = Date.now() + KILL_EVERY_MS;
    for (let left = await driver.size(QUEUE); left > 0; left = await driver.size(QUEUE)) {
      if (Date.now() - startedAt > GIVE_UP_MS) throw new Error(`gave up after ${GIVE_UP_MS / 1000} s with ${left} jobs left (${killed.size} kills)`);
      await sleep(Math.min(500, Math.max(0, nextKill - Date.now())));
      if (Date.now() < nextKill) continue;
      nextKill += KILL_EVERY_MS;
      // Workers up past startsecs, from supervisord's log (cheaper than a supervisorctl every 2 s).
      const up = sv.lives().filter((life) => life.running && !life.end && sv.isWorker(life.pid)).map((life) => life.pid);
      const victim = up[Math.floor(Math.random() * up.length)];
      if (victim === undefined) continue;
      try {
        process.kill(victim, 'SIGKILL');
        killed.set(victim, Date.now());
      } catch {
        // It ended on its own meanwhile (its watchdog, or a planned exit).
      }
    }
  } finally {
    await manager.close();
  }
  return killed;
}

/** Why a failed job failed, by the reasons this test expects. */
function reasonOf(failure: FailedJob): Reason | 'other' {
  return (Object.keys(REASONS) as Reason[]).find((reason) => REASONS[reason].test(failure.error)) ?? 'other';
}

function count<T>(items: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[String(item)] = (counts[String(item)] ?? 0) + 1;
  return counts;
}

function format(counts: Record<string, number>): string {
  return Object.entries(counts).map(([key, n]) => `${key} ${n}`).join(', ') || 'none';
}

const noSupervisord = supervisordSkip();

for (const backend of backends) {
  describe(`soak on ${backend.name}`, { skip: noSupervisord ?? backend.skip }, () => {
    after(() => backend.cleanup());

    it(`${TOTAL.toLocaleString('en')} mixed jobs, 4 workers, a SIGKILL every 2 s: none lost, every rerun explained`, { timeout: GIVE_UP_MS + 60_000 }, async () => {
      const t = await backend.env();
      const kinds = mixedKinds();
      const sv = await startSupervisor({ t, queue: QUEUE, numprocs: 4, flags: ['--concurrency', '4', '--sleep', '0.5'] });
      let killed: Map<number, number>;
      let ids: string[];
      const startedAt = Date.now();
      try {
        await sv.allRunning(60_000);
        ids = await dispatchMixed(t, kinds);
        killed = await drainUnderKills(t, sv, startedAt);
      } finally {
        await sv.shutdown();
      }
      const wallSeconds = (Date.now() - startedAt) / 1000;
      const kindOf = new Map(ids.map((id, i) => [id, kinds[i]!]));
      const runs = runsOf(records(t));
      const failed = new Map((await queueState(t, QUEUE)).failed.map((f) => [f.id, f]));
      const blockingIn = new Set(ids.filter((id) => kindOf.get(id) === 'block').flatMap((id) => (runs.get(id) ?? []).map((run) => run.pid)));

      // Every process that died by SIGKILL was killed by the test or by its own watchdog.
      const watchdog = sv.workerLog().filter((line) => /blocked the event loop/.test(String(line.msg)));
      const watchdogPids = new Set(watchdog.map((line) => line.pid as number));
      const cutShort = new Set([...killed.keys(), ...watchdogPids]);
      const killTimes = [...killed.values(), ...watchdog.map((line) => line.time as number)];
      const lastWords = (pid: number) => sv.workerLog().filter((line) => line.pid === pid).slice(-5).map((line) => JSON.stringify(line)).join('\n');
      for (const { name, pid, end } of sv.lives()) {
        if (end?.signal === 'SIGKILL') assert.ok(cutShort.has(pid), `${name} (pid ${pid}) was SIGKILLed (${end.how}) by neither the test nor its watchdog${blockingIn.has(pid) ? ', though a blocking job ran in it' : ''}; its last log lines:\n${lastWords(pid)}`);
        // Else a clean exit, or (at the shutdown) a SIGTERM that came before the worker had installed its handlers.
        else if (end) assert.ok(end.code === 0 || (end.how === 'stopped' && end.signal === 'SIGTERM'), `${name} (pid ${pid}) ended ${JSON.stringify(end)}`);
      }

      // Each run either reached its own end (done, threw, or aborted at its timeout) or was in a process that was killed.
      const explained = (run: Run) => run.ended !== undefined || cutShort.has(run.pid);
      // A job runs again only after a failed attempt of its own, or a run in a process that was killed.
      const retried = (run: Run) => run.ended === 'throw' || run.ended === 'abort' || cutShort.has(run.pid);
      const done: SoakKind[] = [];
      let rerunAfterKill = 0;
      for (const id of ids) {
        const kind = kindOf.get(id)!;
        const jobRuns = runs.get(id) ?? [];
        const failure = failed.get(id);
        for (const run of jobRuns) assert.ok(explained(run), `${kind} job ${id}: run ${run.attempt} in ${run.pid} did not end, and that process was not killed`);
        for (const run of jobRuns.slice(0, -1)) assert.ok(retried(run), `${kind} job ${id} ran again after run ${run.attempt} in ${run.pid} ended '${run.ended}'`);
        if (jobRuns.slice(0, -1).some((run) => run.ended !== 'throw' && run.ended !== 'abort')) rerunAfterKill += 1;
        if (!failure) {
          assert.ok((kind === 'fast' || kind === 'slow') && jobRuns.at(-1)?.ended === 'end', `${kind} job ${id} is neither done nor failed: lost`);
          done.push(kind);
          continue;
        }
        // Its own reason; 'attempted' once a worker died under it; 'timed out' also when a watchdog
        // recorded it, as it does every job in flight in the process it ends.
        const reasons: (Reason | 'other')[] = ['attempted'];
        if (kind === 'fail') reasons.push('threw');
        if (kind === 'timeout' || kind === 'block' || jobRuns.some((run) => watchdogPids.has(run.pid))) reasons.push('timed out');
        assert.ok(reasons.includes(reasonOf(failure)), `${kind} job ${id} failed with an unexpected reason: ${failure.error}`);
        if (kind === 'fast' || kind === 'slow') assert.ok(jobRuns.every((run) => cutShort.has(run.pid)), `${kind} job ${id} failed (${failure.error}) though not every run of it was killed`);
        assert.ok(jobRuns.filter((run) => run.ended === 'throw' || run.ended === 'abort').length <= 3, `${kind} job ${id}: no more own failures than maxTries`);
      }
      assert.ok([...failed.keys()].every((id) => kindOf.has(id)), 'no failed record for a job this test did not dispatch');

      // failed() ran once for every job that failed for good, whatever ended its last try, and never
      // for a done one. It runs in the worker that recorded the failure, just after: a worker killed
      // in that moment (between the record and the hook) is the one way to miss it, so a miss must
      // have a kill right at its failure time.
      const hooks = count(records(t).filter((line) => line.startsWith('failed-hook ')).map((line) => ids[Number(line.split(' ')[1])]!));
      let missedAtKill = 0;
      for (const id of ids) {
        const calls = hooks[id] ?? 0;
        const failure = failed.get(id);
        const what = `${kindOf.get(id)} job ${id} (${failure?.error.split('\n')[0] ?? 'done'})`;
        if (!failure || calls === 1) {
          assert.equal(calls, failure ? 1 : 0, `${what}: failed() ran ${calls} times`);
          continue;
        }
        assert.equal(calls, 0, `${what}: failed() ran ${calls} times`);
        const killedThen = killTimes.some((at) => at >= failure.failedAt - 200 && at <= failure.failedAt + 1_000);
        assert.ok(killedThen, `${what}: failed() never ran, and no worker was killed when it failed`);
        missedAtKill += 1;
      }
      assert.ok(killed.size >= 3, `the test killed workers (${killed.size})`);
      assert.ok([...watchdogPids].some((pid) => blockingIn.has(pid)), 'the watchdog ended a process whose job blocked the event loop');

      const failedBy = count([...failed.values()].map((f) => `${kindOf.get(f.id)} ${reasonOf(f)}`));
      const falseAlarms = [...watchdogPids].filter((pid) => !blockingIn.has(pid)).length;
      console.log(`# soak ${backend.name}: ${TOTAL} jobs in ${wallSeconds.toFixed(1)} s | done ${done.length} (${format(count(done))}) | failed ${failed.size} (${format(failedBy)})`
        + ` | kills: test ${killed.size}, watchdog ${watchdogPids.size} (${falseAlarms} of them in a process that ran no blocking job)`
        + ` | ran more than once after a kill: ${rerunAfterKill} jobs | failed() ran once for ${failed.size - missedAtKill} failed jobs, never for ${missedAtKill} whose worker was killed as it recorded the failure`);
    });
  });
}
