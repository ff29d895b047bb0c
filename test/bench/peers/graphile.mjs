/**
 * graphile-worker as a peer in the bench (run by lib/pgpeers.ts under Node 22; see child.mjs for the
 * protocol). Everything lives in the schema the parent names (`schema`), which the parent drops
 * afterwards. Two modes:
 *   default  - its defaults: one job fetched per worker and each completion its own statement;
 *   batched  - its local queue and batched completion, as its performance page configures them
 *              (localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0).
 * In both, maxPoolSize is its documented recommendation, max(10, concurrency + 2), and a silent
 * logger plus NO_LOG_SUCCESS (set by the parent) spare it the per-job "Completed task" line.
 *
 * process: pre-loads n jobs with addJobs (1,000 per call), then times run() -> every handler has run
 *   and the jobs table is empty (the worker does not await a completion before its next job, and a
 *   batched one waits for its batch: only an empty table says the work is committed).
 * bulk: times n jobs through addJobs, `chunk` per call, one call at a time.
 * latency: an idle runner at concurrency 1 (woken by LISTEN/NOTIFY, its default), jobs added one at
 *   a time through a separate WorkerUtils (its own pool), push call -> handler start.
 */
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { chunks, runChild, sampleLatency, Starts, waitUntil } from './child.mjs';

const TASK = 'noop';
const silent = new Logger(() => () => {});

function workerPreset({ url, schema, concurrency, mode }) {
  const batching = mode === 'batched' ? { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } : {};
  return { worker: { connectionString: url, schema, concurrentJobs: concurrency, maxPoolSize: Math.max(10, concurrency + 2), ...batching } };
}

async function openUtils({ url, schema }) {
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger: silent });
  await utils.migrate();
  return utils;
}

async function addAll(utils, n, chunk) {
  const ids = [];
  for (const payloads of chunks(n, chunk)) {
    const jobs = await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
    for (const job of jobs) ids.push(String(job.id));
  }
  return ids;
}

async function storedJobs(utils, schema) {
  const { rows } = await utils.withPgClient((client) => client.query(`select count(*)::int as n from "${schema}"._private_jobs`));
  return rows[0].n;
}

/** Starts a runner whose one task calls `onRun(job)`; fails `failed` on any job error. */
async function startRunner(params, onRun, failed) {
  const runner = await run({
    preset: workerPreset(params),
    logger: silent,
    noHandleSignals: true,
    crontab: '',
    taskList: { [TASK]: async (_payload, helpers) => onRun(helpers.job) },
  });
  runner.events.on('job:error', ({ job, error }) => failed(new Error(`graphile-worker: job ${job.id} failed: ${error.message}`)));
  return runner;
}

async function processJobs(params) {
  const utils = await openUtils(params);
  try {
    const pushed = await addAll(utils, params.n, 1_000);
    const ran = [];
    let fail;
    const failure = new Promise((_, reject) => (fail = reject));
    const start = performance.now();
    const runner = await startRunner(params, (job) => ran.push(String(job.id)), fail);
    try {
      const finished = (async () => {
        await waitUntil('every job to run', () => ran.length >= params.n);
        await waitUntil('the jobs table to empty', async () => (await storedJobs(utils, params.schema)) === 0);
      })();
      await Promise.race([finished, failure]);
      const ms = performance.now() - start;
      return { ms, pushed, ran };
    } finally {
      await runner.stop();
    }
  } finally {
    await utils.release();
  }
}

async function bulk(params) {
  const utils = await openUtils(params);
  try {
    const start = performance.now();
    const pushed = await addAll(utils, params.n, params.chunk);
    const ms = performance.now() - start;
    return { ms, pushed, stored: await storedJobs(utils, params.schema) };
  } finally {
    await utils.release();
  }
}

async function latency(params) {
  const utils = await openUtils(params);
  const starts = new Starts();
  let fail;
  const failure = new Promise((_, reject) => (fail = reject));
  const runner = await startRunner({ ...params, concurrency: 1 }, (job) => starts.started(job.id), fail);
  try {
    const sampled = sampleLatency(params.plan, starts, async (i) => (await utils.addJob(TASK, { i, t: 0 })).id);
    const result = await Promise.race([sampled, failure]);
    await waitUntil('the jobs table to empty', async () => (await storedJobs(utils, params.schema)) === 0, 10_000);
    return result;
  } finally {
    await runner.stop();
    await utils.release();
  }
}

runChild((params) => ({ process: processJobs, bulk, latency })[params.op](params));
