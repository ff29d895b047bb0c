/**
 * Where the time of one job goes on the one-at-a-time Redis paths (docs/performance.md, "Against the floor"): our
 * dispatch loop, our c=1 worker, or the bare-EVALSHA floor, each over n jobs on the built library,
 * with what Redis itself counted meanwhile (INFO commandstats: calls and microseconds per command)
 * and the CPU this process used. Best run against a Redis of its own, so that nobody else's
 * commands are in the counts:
 *
 *   TEST_REDIS_URL=redis://127.0.0.1:6390/0 node --import tsx \
 *     test/bench/profile/floor-profile.ts dispatch|c1|floor [N] [--keep records|none] [--no-watchdog] [--profile FILE.cpuprofile]
 *
 * It prints one JSON object: wall µs per job, this process's CPU µs per job (main thread and the
 * watchdog thread together), and per Redis command the calls and server µs per job (Redis 7 counts
 * the commands a script runs as well as the EVALSHA, whose time includes theirs). With FILE, the
 * main thread's CPU profile of the measured run alone (not start-up, not the warm-up) is written
 * there, for summarize.ts. --keep none: done jobs leave no record (the bench's --keep none).
 * --no-watchdog (c1): the worker without its watchdog thread, to see what that costs.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pino from 'pino';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/backends.ts';
import { redisTarget } from '../../../src/drivers/redis/connect.ts';
import { setRunHook } from '../project/sink.ts';
import { QUEUE, RETENTION, elapsedSince, verifyExactlyOnce } from '../lib/common.ts';
import { Worker } from '../lib/built.ts';
import { drainOurs, expectEmpty, newWorker, openOurs, pushOurs, runWorker, workerOptions, type Ours } from '../lib/ours.ts';

type Mode = 'dispatch' | 'c1' | 'floor';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { keep: { type: 'string', default: 'records' }, profile: { type: 'string' }, 'no-watchdog': { type: 'boolean', default: false } } });
const mode = positionals[0] as Mode;
const n = Number(positionals[1] ?? 5_000);
const profileFile = values.profile;
if (!['dispatch', 'c1', 'floor'].includes(mode) || !(n > 0) || !['records', 'none'].includes(values.keep!)) {
  process.stderr.write('usage: floor-profile.ts dispatch|c1|floor [N] [--keep records|none] [--no-watchdog] [--profile FILE.cpuprofile]\n');
  process.exit(2);
}
RETENTION.keep = values.keep as 'records' | 'none';

type CommandStats = Map<string, { calls: number; usec: number }>;

/** INFO commandstats as command -> totals so far. */
async function commandStats(redis: Redis): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Per job: each command's calls and server µs between two readings (INFO, the readings' own, left out). */
function perJob(before: CommandStats, after: CommandStats, jobs: number): Record<string, { callsPerJob: number; serverUsPerJob: number; usPerCall: number }> {
  const out: Record<string, { callsPerJob: number; serverUsPerJob: number; usPerCall: number }> = {};
  for (const [command, total] of after) {
    if (command === 'info') continue;
    const calls = total.calls - (before.get(command)?.calls ?? 0);
    const usec = total.usec - (before.get(command)?.usec ?? 0);
    if (calls > 0) out[command] = { callsPerJob: round(calls / jobs), serverUsPerJob: round(usec / jobs), usPerCall: round(usec / calls) };
  }
  return out;
}

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * The Redis server's CPU time so far (utime + stime of its process, µs), when it runs on this
 * machine: unlike commandstats' µs, which are wall time inside a command, this does not grow when
 * the server is preempted by other processes on a busy machine.
 */
async function serverCpuUs(redis: Redis): Promise<number | undefined> {
  const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1];
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // ticks of 10 ms (USER_HZ 100)
  } catch {
    return undefined; // not on this machine
  }
}

interface Prepared {
  /** The measured part: n jobs, returns ms. */
  run(): Promise<number>;
  /** The checks, after the measurement: every job done, exactly once. */
  check(): Promise<void>;
}

/** This process's main thread's CPU time so far (µs): the rest of process.cpuUsage() is other threads (the watchdog, GC helpers, libuv). */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Sets a mode up (pre-loading is not measured); `run` is then what a bench row times. */
async function prepare(ours: Ours, client: Redis, sha: string): Promise<Prepared> {
  if (mode === 'floor') {
    let zeros = 0;
    return {
      run: async () => {
        const start = performance.now();
        for (let i = 0; i < n; i++) if ((await client.evalsha(sha, 0)) === 0) zeros++;
        return elapsedSince(start);
      },
      check: async () => {
        if (zeros !== n) throw new Error(`floor: ${zeros} of ${n} EVALSHA answered 0`);
      },
    };
  }
  if (mode === 'dispatch') {
    return {
      run: async () => {
        const start = performance.now();
        for (let i = 0; i < n; i++) await ours.manager.push([ours.job(i)]);
        return elapsedSince(start);
      },
      check: async () => {
        const size = await ours.driver.size(QUEUE);
        if (size !== n) throw new Error(`dispatch: pushed ${n} but the queue holds ${size}`);
      },
    };
  }
  const pushed = await pushOurs(ours, n);
  const ran: string[] = [];
  // --no-watchdog: what the watchdog costs per job (its thread started before the clock, as newWorker waits for).
  const worker = values['no-watchdog'] ? new Worker(ours.driver, ours.registry, { payloads: ours.manager.payloads, ...workerOptions(1) }, pino({ level: 'silent' })) : await newWorker(ours, workerOptions(1));
  return {
    run: async () => {
      setRunHook((id) => ran.push(id));
      const start = performance.now();
      const reason = await runWorker(worker);
      const ms = elapsedSince(start);
      setRunHook(undefined);
      if (reason.code !== 'empty') throw new Error(`c1: the worker stopped with '${reason.code}' (${reason.message})`);
      return ms;
    },
    check: async () => {
      verifyExactlyOnce('profile: c=1', pushed, ran);
      await expectEmpty(ours, 'profile: c=1');
    },
  };
}

const prefix = `bench-profile-${randomUUID().slice(0, 8)}`;
// One client for INFO, one for the floor's calls: the same options as our driver's (floor.ts).
const stats = new Redis(REDIS_URL);
const floorClient = redisTarget({ driver: 'redis', url: REDIS_URL }).create() as Redis;
const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
try {
  const sha = (await floorClient.script('LOAD', 'return 0')) as string;
  // Warm-up on the same code paths, so the JIT has settled before the measured run.
  if (mode === 'floor') for (let i = 0; i < 1_000; i++) await floorClient.evalsha(sha, 0);
  else {
    const warm: string[] = [];
    for (let i = 0; i < 1_000; i++) warm.push((await ours.manager.push([ours.job(i)]))[0]!.id);
    await drainOurs(ours, 'profile: warm-up', warm, 1);
  }
  const prepared = await prepare(ours, floorClient, sha);
  const session = new Session();
  if (profileFile) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  const before = await commandStats(stats);
  const serverBefore = await serverCpuUs(stats);
  if (profileFile) await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  const mainBefore = mainThreadCpuUs();
  const ms = await prepared.run();
  const used = process.cpuUsage(cpu);
  const mainUs = mainThreadCpuUs() - mainBefore;
  const profile = profileFile ? (await session.post('Profiler.stop')).profile : undefined;
  const serverAfter = await serverCpuUs(stats);
  const after = await commandStats(stats);
  if (profileFile) session.disconnect();
  if (profile) writeFileSync(profileFile!, JSON.stringify(profile));
  await prepared.check();
  const wallUs = (ms * 1000) / n;
  const cpuUs = (used.user + used.system) / n;
  console.log(JSON.stringify({
    mode,
    keep: RETENTION.keep,
    watchdog: !values['no-watchdog'],
    jobs: n,
    jobsPerSec: Math.round((n / ms) * 1000),
    wallUsPerJob: round(wallUs),
    clientCpuUsPerJob: round(cpuUs),
    clientUserUsPerJob: round(used.user / n),
    clientSystemUsPerJob: round(used.system / n),
    clientMainThreadUsPerJob: round(mainUs / n),
    serverCpuUsPerJob: serverBefore === undefined || serverAfter === undefined ? null : round((serverAfter - serverBefore) / n),
    commands: perJob(before, after, n),
  }, null, 2));
} finally {
  await ours.close();
  await deleteRedisPrefix(prefix);
  stats.disconnect();
  floorClient.disconnect();
}
