/**
 * `npm run bench`: our queue against BullMQ 5 on the same Redis, plus our SQL backends and the
 * worker's memory, in rounds; prints medians, ratios, the SPEC goals and every round's numbers.
 *
 *   npm run bench -- [--rounds N] [--only PART[,PART]] [--keep records|none] [--jobs plain|priority|unique|all] [--json] [--out FILE] [--scale F]
 *
 * PART: redis (our Redis driver), bullmq, sqlite, mariadb, postgres, memory, scale (1, 2 and 4
 * worker processes on Redis and PostgreSQL), depth (1,000,000 waiting + 1,000,000 completed on every
 * backend vs an empty queue, and Redis memory per waiting job vs BullMQ), pgpeers (PostgreSQL:
 * ours vs graphile-worker and pg-boss under Node 22, lib/pgpeers.ts). --json writes the full
 * results as JSON to stdout (the table then goes to stderr; `npm run -s` keeps npm's banner out of
 * stdout), or to FILE with --out. Progress lines go to stderr. --scale
 * multiplies every job count (for a quick check; the SPEC figures are at 1). --jobs makes our jobs
 * plain (the default), priority 5 each, or unique each with a key of its own; `all` keeps them plain
 * and adds, in each round, the figures that depend on the job for each kind in turn, each kind's
 * row against plain jobs (SPEC 17: within 15%). Every processed job is checked by id: a run that
 * skipped or repeated a job fails the bench instead of giving a number.
 */
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BenchFailure, JOB_KINDS, JOBS, RETENTION, percentile, progress, throughput } from './lib/common.ts';
import { bestOf, rowOf, type Figure, type Goal, type Row, type Sample, type Side, type Unit } from './lib/figures.ts';
import { bareEvalsha, pipelinedEvalsha } from './lib/floor.ts';
import { idleRss, rssGrowth } from './lib/memory.ts';
import { DEPTH_BACKENDS, DEPTH_CONCURRENCY, depthPart, type DepthBackend } from './lib/depth.ts';
import { sqlPickup } from './lib/pickup.ts';
import { bullmq, ourRedis, type RedisContender } from './lib/redis.ts';
import { SCALE_BACKENDS, SCALE_CONCURRENCY, SCALE_SLEEP, scaleRun, scaleSamples, type ScaleBackend } from './lib/scale.ts';
import { PROCESSES, SQL_BACKENDS, sqlDispatch, sqlInProcess, sqlProcesses, type ProcessesRun, type SqlBackend } from './lib/sql.ts';
import { pgpeersFigures, pgpeersNote, pgpeersRound } from './lib/pgpeers.ts';
import { writeReport } from './lib/report.ts';

const PARTS = ['redis', 'bullmq', 'sqlite', 'mariadb', 'postgres', 'memory', 'scale', 'depth', 'pgpeers'] as const;
type Part = (typeof PARTS)[number];

const USAGE = 'usage: npm run bench -- [--rounds N] [--only redis,bullmq,sqlite,mariadb,postgres,memory,scale,depth,pgpeers] [--keep records|none] [--jobs plain|priority|unique] [--json] [--out FILE] [--scale F]';

function parseOptions() {
  try {
    return readOptions();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      only: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      scale: { type: 'string', default: '1' },
      keep: { type: 'string', default: 'records' },
      jobs: { type: 'string', default: 'plain' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rounds = Number(values.rounds);
  const scale = Number(values.scale);
  if (!Number.isInteger(rounds) || rounds < 1) throw new BenchFailure('--rounds must be a whole number >= 1');
  if (!(scale > 0)) throw new BenchFailure('--scale must be a number > 0');
  const only = (values.only ?? []).flatMap((value) => value.split(',')).map((part) => part.trim()).filter(Boolean);
  for (const part of only) if (!(PARTS as readonly string[]).includes(part)) throw new BenchFailure(`--only ${part}: not one of ${PARTS.join(', ')}`);
  const parts = new Set<Part>(only.length ? (only as Part[]) : PARTS);
  if (values.keep !== 'records' && values.keep !== 'none') throw new BenchFailure(`--keep ${values.keep}: use records (the default retention on both sides) or none (done jobs deleted)`);
  RETENTION.keep = values.keep;
  const allKinds = values.jobs === 'all';
  if (!allKinds && !Object.hasOwn(JOB_KINDS, values.jobs)) throw new BenchFailure(`--jobs ${values.jobs}: use plain, priority (every job priority 5), unique (every job a unique job, none a duplicate) or all (plain, then each kind against plain)`);
  JOBS.kind = allKinds ? 'plain' : (values.jobs as keyof typeof JOB_KINDS);
  return { rounds, scale, parts, allKinds, json: values.json || values.out !== undefined, out: values.out };
}

const options = parseOptions();
const scaled = (n: number, step = 1) => Math.max(step, Math.round((n * options.scale) / step) * step);
const count = (n: number) => n.toLocaleString('en-US');

const SIZES = {
  one: scaled(5_000),
  bulk: scaled(20_000, 1_000),
  redisC1: scaled(5_000),
  redisC50: scaled(20_000),
  latency: { samples: scaled(300), warmup: 30, gapMs: 5 },
  sql: {
    sqlite: { one: scaled(5_000), bulk: scaled(20_000, 1_000), c1: scaled(3_000), c50: scaled(20_000), procsC1: scaled(3_000), procsC50: scaled(10_000) },
    mariadb: { one: scaled(1_000), bulk: scaled(20_000, 1_000), c1: scaled(500), c50: scaled(5_000), procsC1: scaled(1_000), procsC50: scaled(5_000) },
    postgres: { one: scaled(1_000), bulk: scaled(20_000, 1_000), c1: scaled(500), c50: scaled(5_000), procsC1: scaled(1_000), procsC50: scaled(5_000) },
  } satisfies Record<SqlBackend, Record<string, number>>,
  growth: { jobs: scaled(100_000, 1_000), concurrency: 50 },
  pickup: { samples: scaled(40), warmup: 3, gapMs: [300, 1_300] as [number, number], cpuMs: 10_000 },
  scale: { redis: scaled(50_000), postgres: scaled(20_000), processes: [1, 2, 4] },
  depth: { waiting: scaled(1_000_000, 1_000), records: scaled(1_000_000, 1_000), drain: scaled(20_000, 100), warmup: scaled(2_000, 100), memoryJobs: scaled(100_000, 1_000) },
  pgpeers: { small: scaled(5_000), large: scaled(20_000), bulk: scaled(20_000, 1_000), chunk: 1_000, latency: { samples: Math.max(10, scaled(30)), warmup: 5, gapMs: [200, 400] as [number, number] } },
};
const BULK_CHUNK = 1_000;

// ---- the figures, in table order ----

const figures = new Map<string, Figure>();
function figure(key: string, label: string, unit: Unit, goal?: Goal, peerName?: string): void {
  figures.set(key, { key, label, unit, goal, peerName, ours: [], peer: [] });
}
function add(key: string, side: Side, sample: Sample): void {
  figures.get(key)![side].push(sample);
}

figure('redis.one', `Redis: dispatch one at a time (${count(SIZES.one)} awaited single pushes)`, 'jobs/s', { kind: 'ratio-min', value: 2 });
figure('redis.bulk', `Redis: bulk dispatch (${count(SIZES.bulk)} jobs, ${count(BULK_CHUNK)} per call)`, 'jobs/s', { kind: 'ratio-min', value: 4 });
figure('redis.c1', `Redis: processing, one worker c=1 (${count(SIZES.redisC1)} jobs)`, 'jobs/s', { kind: 'ratio-min', value: 2.5 });
figure('redis.c50', `Redis: processing, one worker c=50 (${count(SIZES.redisC50)} jobs)`, 'jobs/s', { kind: 'ratio-min', value: 2 });
figure('redis.oneFloor', `Redis: dispatch one at a time: ours vs its floor (${count(SIZES.one)} awaited EVALSHA of an empty script)`, 'jobs/s', { kind: 'ratio-min', value: 0.8 }, 'bare EVALSHA');
figure('redis.bulkFloor', `Redis: bulk dispatch: ours vs its floor (${count(SIZES.bulk)} EVALSHA of an empty script, pipelines of ${count(BULK_CHUNK)})`, 'jobs/s', undefined, 'pipelined EVALSHA');
figure('redis.c1Floor', `Redis: processing c=1: ours vs its floor (${count(SIZES.redisC1)} awaited EVALSHA, one per job)`, 'jobs/s', { kind: 'ratio-min', value: 0.8 }, 'bare EVALSHA');
figure('redis.c50Floor', `Redis: processing c=50: ours vs its floor (${count(SIZES.redisC50)} EVALSHA, pipelines of 50)`, 'jobs/s', undefined, 'pipelined EVALSHA');
figure('redis.p50', `Redis: pick-up latency p50 (idle worker, ${SIZES.latency.samples} samples)`, 'ms', { kind: 'max', value: 1 });
figure('redis.p99', `Redis: pick-up latency p99 (idle worker, ${SIZES.latency.samples} samples)`, 'ms', { kind: 'max', value: 5 });
const SQL_NAMES: Record<SqlBackend, string> = { sqlite: 'SQLite', mariadb: 'MariaDB', postgres: 'PostgreSQL' };
for (const backend of SQL_BACKENDS) {
  const name = SQL_NAMES[backend];
  const n = SIZES.sql[backend];
  figure(`${backend}.one`, `${name}: dispatch one at a time (${count(n.one)} awaited single pushes)`, 'jobs/s');
  figure(`${backend}.bulk`, `${name}: bulk dispatch (${count(n.bulk)} jobs, ${count(BULK_CHUNK)} per call)`, 'jobs/s');
  figure(`${backend}.c1`, `${name}: one in-process worker c=1 (${count(n.c1)} jobs)`, 'jobs/s');
  figure(`${backend}.c50`, `${name}: one in-process worker c=50 (${count(n.c50)} jobs)`, 'jobs/s');
  figure(`${backend}.procsC1`, `${name}: ${PROCESSES} worker processes c=1 (${count(n.procsC1)} jobs, start-up included)`, 'jobs/s');
  figure(`${backend}.procsC50`, `${name}: ${PROCESSES} worker processes c=50 (${count(n.procsC50)} jobs, start-up included)`, 'jobs/s');
}
/**
 * SPEC 17: priority and unique jobs within 15% of plain ones on the same backend (--jobs all). The
 * figures that depend on the job are measured again in each round for plain, priority and unique
 * jobs in turn (kindsRound); each kind's row has that round's plain figure as its peer.
 */
const KINDS = ['plain', 'priority', 'unique'] as const;
const KIND_GOAL: Goal = { kind: 'ratio-min', value: 0.85 };
const KIND_KEYS = ['redis.one', 'redis.bulk', 'redis.c1', 'redis.c50', ...SQL_BACKENDS.flatMap((b) => [`${b}.one`, `${b}.bulk`, `${b}.c1`, `${b}.c50`])];
if (options.allKinds) {
  for (const key of KIND_KEYS) {
    for (const kind of KINDS.slice(1)) figure(`${key}@${kind}`, `${figures.get(key)!.label}: ${kind} jobs against plain ones`, 'jobs/s', KIND_GOAL, 'plain jobs');
  }
}
/** SPEC 17: an idle SQL worker's pick-up with the default settings, and its CPU meanwhile (not a goal on PostgreSQL). */
const PICKUP_GOALS: Record<SqlBackend, { p50: number; cpu?: number }> = { sqlite: { p50: 100, cpu: 1 }, mariadb: { p50: 100, cpu: 1 }, postgres: { p50: 5 } };
for (const backend of SQL_BACKENDS) {
  const { p50, cpu } = PICKUP_GOALS[backend];
  const of = `idle \`queue work\`, default settings, ${SIZES.pickup.samples} samples`;
  figure(`${backend}.pickupP50`, `${SQL_NAMES[backend]}: pick-up latency p50 (${of})`, 'ms', { kind: 'max', value: p50 });
  figure(`${backend}.pickupP95`, `${SQL_NAMES[backend]}: pick-up latency p95 (${of})`, 'ms');
  const cpuS = SIZES.pickup.cpuMs / 1000;
  figure(`${backend}.idleCpu`, `${SQL_NAMES[backend]}: idle worker CPU, first ${cpuS} s idle (one core = 100%)`, '%');
  figure(`${backend}.settledCpu`, `${SQL_NAMES[backend]}: idle worker CPU, settled (the ${cpuS} s after those; one core = 100%)`, '%', cpu === undefined ? undefined : { kind: 'max', value: cpu, strict: true });
}
figure('sqlite.startup', `${PROCESSES} x queue work start-up alone (empty SQLite queue, spawn to exit)`, 'ms');
figure('memory.start', 'Worker RSS just after start-up (queue work on Redis, idle 2 s, VmRSS)', 'MB');
figure('memory.idle', 'Idle worker RSS (queue work on Redis, idle 12 s, VmRSS)', 'MB', { kind: 'max', value: 70 });
figure('memory.growth', `Worker RSS growth over ${count(SIZES.growth.jobs)} jobs (after 1,000 vs after ${count(SIZES.growth.jobs)}; c=${SIZES.growth.concurrency})`, 'MB', { kind: 'max', value: 10, strict: true });
/** SPEC 17 depth: each row's peer is the same drain on an empty queue, so the ratio is what the depth costs. */
const DEPTH_NAMES: Record<DepthBackend, string> = { ...SQL_NAMES, redis: 'Redis' };
for (const backend of DEPTH_BACKENDS) {
  const { waiting, records, drain } = SIZES.depth;
  figure(`depth.${backend}`, `${DEPTH_NAMES[backend]}: claim at depth, ${count(waiting)} waiting + ${count(records)} completed kept (keep 1d, 10,000,000 per queue: none trimmed), one worker c=${DEPTH_CONCURRENCY} runs ${count(drain)}`, 'jobs/s', { kind: 'ratio-min', value: 0.8 }, 'empty queue');
}
figure('depth.redisMemory', `Redis: memory of the deep queue (${count(SIZES.depth.waiting)} waiting + ${count(SIZES.depth.records)} completed; MEMORY USAGE of every key)`, 'MB');
figure('redis.memoryPerJob', `Redis: memory of ${count(SIZES.depth.memoryJobs)} waiting jobs, same payload (MEMORY USAGE of every key; lower is better; goal: ours <= half BullMQ's)`, 'MB');
figure('redis.memoryRatio', 'Redis: memory per waiting job, ours / BullMQ (100 = the same)', '%', { kind: 'max', value: 50 });
/** SPEC 17 scale-out: each throughput row's peer is the 1-process run of the same round, so the ratio is the speed-up. */
const SCALE_NAMES: Record<ScaleBackend, [string, string]> = { redis: ['Redis', 'redis-server'], postgres: ['PostgreSQL', 'postgres'] };
for (const backend of SCALE_BACKENDS) {
  const [name, server] = SCALE_NAMES[backend];
  for (const p of SIZES.scale.processes) {
    figure(`scale.${backend}.p${p}`, `${name} scale-out: ${p} x queue work c=${SCALE_CONCURRENCY} (${count(SIZES.scale[backend])} jobs, from all ready to last exit)`, 'jobs/s', undefined, '1 process');
    figure(`scale.${backend}.p${p}.cpu`, `${name} scale-out: ${p} x queue work, CPU of our workers vs the server's (one core = 100%)`, '%', undefined, server);
    figure(`scale.${backend}.p${p}.machine`, `${name} scale-out: ${p} x queue work, CPU of the whole machine (${cpus().length} cores = ${cpus().length}00%)`, '%');
  }
}

/** SPEC 17 PostgreSQL peers: ours against graphile-worker and pg-boss per figure, and ours at 20k jobs against ours at 5k. */
for (const spec of pgpeersFigures(SIZES.pgpeers)) figure(spec.key, spec.label, spec.unit, spec.goal, spec.peerName);

/** The SPEC's one-worker goals, on the better of c=1 and c=50. */
const ONE_WORKER_GOALS: Partial<Record<SqlBackend, number>> = { sqlite: 5_000, mariadb: 3_000 };

// ---- measurements ----

function jobsSample(n: number, ms: number): Sample {
  const t = throughput(n, ms);
  return { value: t.jobsPerSec, detail: `${count(n)} jobs in ${count(Math.round(t.ms))} ms`, raw: { ...t } };
}

interface Measure {
  run(contender: RedisContender): Promise<[string, Sample][]>;
  /** Its figures depend on the job (KIND_KEYS): kindsRound measures it for each kind. */
  byKind?: true;
  /** SPEC 17: the physical floor of our figure (floor.ts), measured right next to ours; `key` is its figure. */
  floor?: { key: string; run: () => Promise<Sample> };
}

const redisMeasures: Measure[] = [
  { byKind: true, run: async (c) => [['redis.one', jobsSample(SIZES.one, await c.dispatchOne(SIZES.one))]], floor: { key: 'redis.oneFloor', run: async () => jobsSample(SIZES.one, await bareEvalsha(SIZES.one)) } },
  { byKind: true, run: async (c) => [['redis.bulk', jobsSample(SIZES.bulk, await c.dispatchBulk(SIZES.bulk, BULK_CHUNK))]], floor: { key: 'redis.bulkFloor', run: async () => jobsSample(SIZES.bulk, await pipelinedEvalsha(SIZES.bulk, BULK_CHUNK)) } },
  { byKind: true, run: async (c) => [['redis.c1', jobsSample(SIZES.redisC1, await c.process(SIZES.redisC1, 1))]], floor: { key: 'redis.c1Floor', run: async () => jobsSample(SIZES.redisC1, await bareEvalsha(SIZES.redisC1)) } },
  { byKind: true, run: async (c) => [['redis.c50', jobsSample(SIZES.redisC50, await c.process(SIZES.redisC50, 50))]], floor: { key: 'redis.c50Floor', run: async () => jobsSample(SIZES.redisC50, await pipelinedEvalsha(SIZES.redisC50, 50)) } },
  {
    run: async (c) => {
      const latencies = await c.latency(SIZES.latency);
      const raw = { samples: latencies.length, min: Math.min(...latencies), max: Math.max(...latencies) };
      const detail = `${latencies.length} samples, min ${raw.min.toFixed(3)} max ${raw.max.toFixed(3)} ms`;
      return [
        ['redis.p50', { value: percentile(latencies, 50), detail, raw }],
        ['redis.p99', { value: percentile(latencies, 99), detail, raw }],
      ];
    },
  },
];

const contenders: RedisContender[] = [ourRedis, bullmq].filter((c) => options.parts.has(c.name === 'ours' ? 'redis' : 'bullmq'));

async function warmUp(): Promise<void> {
  for (const c of contenders) {
    progress(`warm-up: ${c.name} on Redis`);
    await c.dispatchOne(300);
    await c.dispatchBulk(2_000, BULK_CHUNK);
    await c.process(2_000, 50);
    await c.process(300, 1);
  }
  for (const backend of SQL_BACKENDS.filter((b) => options.parts.has(b))) {
    progress(`warm-up: ${backend}`);
    await sqlInProcess(backend, 500, 50);
  }
}

async function redisRound(round: number): Promise<void> {
  for (const measure of redisMeasures) {
    // Alternate who goes first, so neither always runs on a warmer (or busier) machine.
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      // Our floor goes right before ours in even rounds and right after in odd ones.
      const floor = contender.name === 'ours' ? measure.floor : undefined;
      if (floor && round % 2 === 0) await measureFloor(round, floor);
      for (const [key, sample] of await measure.run(contender)) {
        add(key, contender.name === 'ours' ? 'ours' : 'peer', sample);
        if (floor) add(floor.key, 'ours', sample);
        progress(`round ${round + 1}: ${contender.name} ${key} = ${sample.value.toFixed(sample.value < 10 ? 3 : 0)} (${sample.detail})`);
      }
      if (floor && round % 2 === 1) await measureFloor(round, floor);
    }
  }
}

async function measureFloor(round: number, floor: NonNullable<Measure['floor']>): Promise<void> {
  const sample = await floor.run();
  add(floor.key, 'peer', sample);
  progress(`round ${round + 1}: ${floor.key} = ${sample.value.toFixed(0)} (${sample.detail})`);
}

/** Things that went wrong without invalidating a number (the work was done): listed loudly, exit 1. */
const anomalies: string[] = [];

/** A SQL backend's dispatch rows: one at a time, then in bulks, into the same fresh tables. */
async function sqlDispatchSamples(backend: SqlBackend): Promise<[string, Sample][]> {
  const n = SIZES.sql[backend];
  const { oneMs, bulkMs } = await sqlDispatch(backend, n.one, n.bulk);
  return [[`${backend}.one`, jobsSample(n.one, oneMs)], [`${backend}.bulk`, jobsSample(n.bulk, bulkMs)]];
}

async function sqlRound(round: number, backend: SqlBackend): Promise<void> {
  const n = SIZES.sql[backend];
  for (const [key, sample] of await sqlDispatchSamples(backend)) {
    add(key, 'ours', sample);
    progress(`round ${round + 1}: ${key} = ${Math.round(sample.value)} jobs/s (${sample.detail})`);
  }
  const runs: [string, number, () => Promise<ProcessesRun>][] = [
    [`${backend}.c1`, n.c1, async () => ({ ms: await sqlInProcess(backend, n.c1, 1), logs: [], left: 0 })],
    [`${backend}.c50`, n.c50, async () => ({ ms: await sqlInProcess(backend, n.c50, 50), logs: [], left: 0 })],
    [`${backend}.procsC1`, n.procsC1, () => sqlProcesses(backend, n.procsC1, 1)],
    [`${backend}.procsC50`, n.procsC50, () => sqlProcesses(backend, n.procsC50, 50)],
  ];
  if (backend === 'sqlite') runs.push(['sqlite.startup', 0, () => sqlProcesses('sqlite', 0, 1)]);
  for (const [key, jobs, run] of runs) {
    const { ms, logs, left } = await run();
    const sample = jobs ? jobsSample(jobs, ms) : { value: ms, detail: `${PROCESSES} processes, 0 jobs` };
    if (logs.length) sample.detail += `; workers logged ${logs.join('; ')}`;
    if (left) {
      sample.detail += `; ${left} JOBS LEFT STORED`;
      anomalies.push(`round ${round + 1}, ${figures.get(key)!.label}: every job ran exactly once and every worker exited 0, but ${left} jobs were still stored afterwards (they would run again after their lease). The workers logged: ${logs.join('; ') || 'nothing'}`);
    }
    add(key, 'ours', sample);
    progress(`round ${round + 1}: ${key} = ${Math.round(sample.value)} ${jobs ? 'jobs/s' : 'ms'} (${sample.detail})`);
  }
}

/**
 * --jobs all: each measure whose figures depend on the job, for plain, priority and unique jobs one
 * after another (the order turning round by round), each kind once untimed and then timed; each
 * kind's figure goes beside this round's plain one. Ours alone: BullMQ's jobs are plain in every row.
 */
async function kindsRound(round: number): Promise<void> {
  const measures: (() => Promise<[string, Sample][]>)[] = [];
  if (options.parts.has('redis')) for (const measure of redisMeasures.filter((m) => m.byKind)) measures.push(() => measure.run(ourRedis));
  for (const backend of SQL_BACKENDS.filter((b) => options.parts.has(b))) {
    const n = SIZES.sql[backend];
    measures.push(
      () => sqlDispatchSamples(backend),
      async () => [[`${backend}.c1`, jobsSample(n.c1, await sqlInProcess(backend, n.c1, 1))]],
      async () => [[`${backend}.c50`, jobsSample(n.c50, await sqlInProcess(backend, n.c50, 50))]],
    );
  }
  const order = [...KINDS.slice(round % KINDS.length), ...KINDS.slice(0, round % KINDS.length)];
  try {
    for (const measure of measures) {
      // Each kind's timed run right after an untimed one of the same kind: the first of a measure's
      // runs after another measure's ran slower (a plain bulk on Redis at 61,216 jobs/s first,
      // 126,023 and 153,118 second or third), and so did a kind's first run after other kinds'
      // (Redis one at a time: priority jobs 8,267 to 10,004 jobs/s cold, 11,096 to 12,035 warm,
      // plain ones 11,496 to 12,865). Warming every kind in round 1 alone did not hold over rounds
      // that measured SQL in between.
      const plain: [string, Sample][] = [];
      for (const kind of order) {
        JOBS.kind = kind;
        await measure();
        for (const [key, sample] of await measure()) {
          if (kind === 'plain') plain.push([key, sample]);
          else add(`${key}@${kind}`, 'ours', sample);
          progress(`round ${round + 1}: ${key} ${kind} jobs = ${Math.round(sample.value)} jobs/s (${sample.detail})`);
        }
      }
      for (const [key, sample] of plain) for (const kind of KINDS.slice(1)) add(`${key}@${kind}`, 'peer', sample);
    }
  } finally {
    JOBS.kind = 'plain';
  }
}

async function pickupRound(round: number, backend: SqlBackend): Promise<void> {
  const { latencies, idleCpu, settledCpu } = await sqlPickup(backend, SIZES.pickup);
  const raw = { samples: latencies.length, min: Math.min(...latencies), max: Math.max(...latencies) };
  const detail = `${latencies.length} samples, min ${raw.min.toFixed(3)} max ${raw.max.toFixed(3)} ms`;
  const samples: [string, Sample][] = [
    [`${backend}.pickupP50`, { value: percentile(latencies, 50), detail, raw }],
    [`${backend}.pickupP95`, { value: percentile(latencies, 95), detail, raw }],
    [`${backend}.idleCpu`, { value: idleCpu, detail: `CPU time of the idle worker over its first ${SIZES.pickup.cpuMs / 1000} s idle` }],
    [`${backend}.settledCpu`, { value: settledCpu, detail: `CPU time of the idle worker over the ${SIZES.pickup.cpuMs / 1000} s after those` }],
  ];
  for (const [key, sample] of samples) {
    add(key, 'ours', sample);
    progress(`round ${round + 1}: ${key} = ${sample.value.toFixed(3)} (${sample.detail})`);
  }
}

async function scaleRound(round: number): Promise<void> {
  for (const backend of SCALE_BACKENDS) {
    // Alternate the order of the runs, so neither end always runs on a warmer (or busier) machine.
    const counts = round % 2 === 0 ? SIZES.scale.processes : [...SIZES.scale.processes].reverse();
    for (const p of counts) {
      const key = `scale.${backend}.p${p}`;
      const run = await scaleRun(backend, p, SIZES.scale[backend]);
      const { jobs, workers, server, machine } = scaleSamples(run);
      if (run.left) anomalies.push(`round ${round + 1}, ${figures.get(key)!.label}: every job ran exactly once and every worker exited 0, but ${run.left} jobs were still stored afterwards. The workers logged: ${run.logs.join('; ') || 'nothing'}`);
      add(key, 'ours', jobs);
      add(`${key}.cpu`, 'ours', workers);
      add(`${key}.cpu`, 'peer', server);
      add(`${key}.machine`, 'ours', machine);
      // Each row's peer is this round's 1-process run, so its ratio is the speed-up.
      if (p === 1) for (const q of SIZES.scale.processes) add(`scale.${backend}.p${q}`, 'peer', jobs);
      progress(`round ${round + 1}: ${key} = ${jobs.value} jobs/s (${jobs.detail})`);
    }
  }
}

async function memoryRound(round: number): Promise<void> {
  const [early, settled] = await idleRss([2_000, 12_000]);
  add('memory.start', 'ours', { value: early!, detail: 'VmRSS after start-up + 2 s idle' });
  add('memory.idle', 'ours', { value: settled!, detail: 'VmRSS after start-up + 12 s idle' });
  progress(`round ${round + 1}: memory.start = ${early!.toFixed(1)} MB, memory.idle = ${settled!.toFixed(1)} MB`);
  const growth = await rssGrowth(SIZES.growth.jobs, SIZES.growth.concurrency);
  const detail = `${growth.rssAfter1k.toFixed(1)} -> ${growth.rssAfterAll.toFixed(1)} MB, peak ${growth.peak.toFixed(1)} MB, ${count(growth.jobs)} jobs in ${count(growth.ms)} ms`;
  add('memory.growth', 'ours', { value: growth.growth, detail, raw: { ...growth } });
  progress(`round ${round + 1}: memory.growth = ${growth.growth.toFixed(1)} MB (${detail})`);
}

// ---- the run ----

function rows(): Row[] {
  const out: Row[] = [];
  for (const fig of figures.values()) {
    if (!fig.ours.length && !fig.peer.length) continue;
    out.push(rowOf(fig));
    const backend = fig.key.replace(/\.c50$/, '') as SqlBackend;
    const goal = fig.key.endsWith('.c50') ? ONE_WORKER_GOALS[backend] : undefined;
    if (goal !== undefined) {
      const best = bestOf(`${backend}.oneWorker`, `${SQL_NAMES[backend]}: one worker`, figures.get(`${backend}.c1`)!, fig, ['c=1', 'c=50'], { kind: 'min', value: goal });
      if (best) out.push(best);
    }
  }
  return out;
}

function notes(startLoad: number[], endLoad: number[]): string[] {
  return [
    `Every job is a no-op (payload {i, t}); every processed id was checked: each pushed job ran exactly once, nothing else ran, nothing failed, and the queue was empty afterwards (a multi-process run that leaves jobs stored is listed under ANOMALIES and the bench exits 1).`,
    options.allKinds
      ? `Our jobs: plain (priority 0, not unique), except in the rows of priority and unique jobs against plain ones (--jobs all): in each round the figures that depend on the job are measured again, for plain jobs, jobs of priority 5 each and unique jobs each with a key of its own, one kind after another (the order turning from round to round), each kind once untimed and then timed, and each kind's row has that round's plain figure as its peer; BullMQ's are plain.`
      : `Our jobs: ${JOBS.kind === 'plain' ? 'plain (priority 0, not unique)' : JOBS.kind === 'priority' ? 'priority 5 each (--jobs priority)' : 'unique, each with a key of its own (--jobs unique)'}; BullMQ's are plain.`,
    `Bulk dispatch: ${count(BULK_CHUNK)} jobs per call, calls one after another (ours: manager.push(jobs); BullMQ: queue.addBulk(jobs)); processing runs pre-load the same way.`,
    RETENTION.keep === 'none'
      ? `Done jobs leave nothing (--keep none): ours keep: false, BullMQ removeOnComplete: true.`
      : `Done jobs keep their records (--keep records, the default): ours with its default retention (1 hour, at most 1,000 per queue), BullMQ with removeOnComplete { age: 3600, count: 1000 }, the same rule.`,
    `BullMQ ${bullmqVersion()} on the same Redis, its own key prefix; its worker is started (autorun: false, then run()) after it is ready and timed to the N-th 'completed' event.`,
    `Ours in-process: the built library (dist/, what queue work runs), new Worker(driver, registry, {concurrency, sleep: 0.05, rest: 0, stopWhenEmpty: true, watchdog, ...}) with its watchdog thread as queue work has it, built once that thread has started (as BullMQ's worker is timed from waitUntilReady()) and timed from run() to its return; pick-up latency uses sleep 3 (the CLI default) so the idle worker blocks on BLPOP; BullMQ's idle worker blocks in its own way. Latency = performance.now() just before the push call -> start of handle(), in one process, after ${SIZES.latency.warmup} warm-up jobs, ${SIZES.latency.gapMs} ms between a start and the next push.`,
    `SQL: fresh tables (or SQLite file) per measurement, DB_POOL ${10}; ${PROCESSES}-process runs spawn 'bin/queue.js work --stop-when-empty --concurrency C --queue bench' x${PROCESSES} and time first spawn -> last exit, process start-up INCLUDED (see the start-up-alone row).`,
    `SQL pick-up: one 'bin/queue.js work --queue bench' child with every other setting at its default (--sleep 3), jobs dispatched from this process one at a time, ${SIZES.pickup.gapMs.join('-')} ms (at random) after the last one started, after ${SIZES.pickup.warmup} warm-up jobs; latency = the epoch time (to a fraction of a ms) just before the push call -> the job's own record of its start. Idle CPU: the child's utime + stime from /proc over its first ${SIZES.pickup.cpuMs / 1000} s of idleness and, settled (the goal's row), over the ${SIZES.pickup.cpuMs / 1000} s after those, before the samples.`,
    `Memory: both figures are a real 'bin/queue.js work' process on Redis, run by its shebang as a process manager runs it (its node flags apply), VmRSS read from /proc. Growth: it drains ${count(SIZES.growth.jobs)} pre-loaded jobs at c=${SIZES.growth.concurrency}, RSS after 1,000 vs after the last (no forced GC).`,
    `Floors (SPEC 17): what the same Redis does when a job costs exactly one call of an empty Lua script ('return 0', loaded once with SCRIPT LOAD) over a client with our driver's ioredis options; each reply is checked. One-at-a-time figures (dispatch one at a time; processing c=1, where our worker runs one turn script per job): n EVALSHA each awaited before the next ('bare EVALSHA'). Batched figures: n EVALSHA in pipelines of the batch size (${count(BULK_CHUNK)} for bulk dispatch, 50 for c=50), each awaited before the next ('pipelined EVALSHA'). Measured in each round right before ours (even rounds) or right after (odd rounds); the floor row repeats our figure beside it.`,
    `Scale-out: 1, 2 and 4 'bin/queue.js work --stop-when-empty --concurrency ${SCALE_CONCURRENCY} --sleep ${SCALE_SLEEP}' processes drain one preloaded queue (Redis ${count(SIZES.scale.redis)} jobs, PostgreSQL ${count(SIZES.scale.postgres)}). The queue is paused while they start; once each says it has started it is paused by SIGUSR2, the queue is resumed, and after every worker has read that, all get SIGCONT: the time runs from that SIGCONT to the last exit (start-up excluded; spawn to exit is in the per-round detail). Every id checked as above. The speed-up is against the 1-process run of the same round. CPU, in % of one core over the same time, from /proc: our workers' utime + stime (reaped children), and the server's (every redis-server process, or every postgres process plus the postmaster's reaped backends); the servers are shared, so anything else using them meanwhile is counted too. The machine row is every core's busy time (/proc/stat), whoever used it: near ${cpus().length}00% the cores, not the queue, are the limit. The per-round detail gives CPU µs per job, which does not depend on how busy the machine was.`,
    `Depth: per backend the queue is loaded once (SQL: rows copied by INSERT ... SELECT from one row a real push made and one a real worker finished; then what the server would do by itself soon after such a load: VACUUM ANALYZE and CHECKPOINT on PostgreSQL, ANALYZE TABLE on MariaDB, a WAL checkpoint on SQLite; Redis: pushed, the records run through our turn script with kept acks), checked with the driver's stats and records, then each round one in-process worker c=${DEPTH_CONCURRENCY} (maxJobs ${count(SIZES.depth.drain)}: it takes no more) drains ${count(SIZES.depth.drain)} of the waiting jobs, beside the same drain on a fresh queue holding only those (alternating who goes first). Both keep every record (keep { completed: '1d', count: 10000000 }), whatever --keep says. Each drain checked: exactly that many different jobs of that queue ran, none twice across rounds, and the driver counts that many fewer ready and more completed, none reserved or failed. Redis memory per waiting job: ${count(SIZES.depth.memoryJobs)} jobs {i, t: 0} each side under a fresh 6-character prefix (each BullMQ job key carries it; its default 'bull' gives key names of the same allocation size; ours: manager.push in bulks of 1,000; BullMQ: addBulk of add('Noop', data) with default options), weighed as the sum of MEMORY USAGE SAMPLES 0 over every key of the prefix (exact, unaffected by other clients); INFO used_memory's delta is in the per-round detail.`,
    ...(options.parts.has('pgpeers') ? [pgpeersNote()] : []),
    `Ratios are ours / the row's peer (BullMQ unless named) of the medians; for latency a ratio below 1 means ours is faster. Load average (1/5/15 min) at start ${startLoad.map((l) => l.toFixed(1)).join('/')}, at end ${endLoad.map((l) => l.toFixed(1)).join('/')} on ${cpus().length} cores.`,
  ];
}

function bullmqVersion(): string {
  return (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;
}

async function main(): Promise<number> {
  const started = Date.now();
  const startLoad = loadavg();
  progress(`rounds ${options.rounds}, parts ${[...options.parts].join(', ')}, scale ${options.scale}`);
  await warmUp();
  for (let round = 0; round < options.rounds; round++) {
    if (contenders.length) await redisRound(round);
    for (const backend of SQL_BACKENDS) {
      if (!options.parts.has(backend)) continue;
      await sqlRound(round, backend);
      await pickupRound(round, backend);
    }
    if (options.parts.has('memory')) await memoryRound(round);
    if (options.parts.has('scale')) await scaleRound(round);
    if (options.parts.has('pgpeers')) for (const [key, side, sample] of await pgpeersRound(round, SIZES.pgpeers)) add(key, side, sample);
    if (options.allKinds) await kindsRound(round);
  }
  if (options.parts.has('depth')) await depthPart(SIZES.depth, options.rounds, add);
  const wallSeconds = Math.round((Date.now() - started) / 100) / 10;
  const endLoad = loadavg();
  const measured = [...figures.values()].filter((f) => f.ours.length || f.peer.length);
  writeReport({
    started,
    wallSeconds,
    loadAverage: { start: startLoad, end: endLoad },
    options: { rounds: options.rounds, parts: [...options.parts], scale: options.scale, sizes: SIZES, bulkChunk: BULK_CHUNK },
    rows: rows(),
    figures: measured,
    notes: notes(startLoad, endLoad),
    anomalies,
    rounds: options.rounds,
  }, options);
  if (anomalies.length) process.stderr.write(`\nBENCH FINISHED WITH ${anomalies.length} ANOMAL${anomalies.length === 1 ? 'Y' : 'IES'} (listed above): exit 1\n`);
  return anomalies.length ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\nBENCH FAILED: ${error instanceof BenchFailure ? error.message : (error as Error).stack}\n`);
  process.exitCode = 1;
}
// Nothing should be left open, but a stray handle must not keep the bench alive.
setTimeout(() => process.exit(), 2_000).unref();
