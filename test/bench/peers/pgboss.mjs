/**
 * pg-boss as a peer in the bench (run by lib/pgpeers.ts under Node 22; see child.mjs for the
 * protocol), installed into the schema the parent names, which the parent drops afterwards.
 *
 * process: pre-loads n jobs with insert() (1,000 per call), refreshes the queue's counts
 *   (supervise), then times work() on a freshly started instance -> every handler has run and no job
 *   of the queue is left in any state but completed. A pg-boss worker waits its polling interval
 *   (2 s by default) after each fetch unless a burst mode applies, so each concurrency uses the
 *   documented way to drain a backlog:
 *     one     (c=1)  - batchSize 1, localConcurrency 1, burstWhenReadyExceeds 1: fetch again at once
 *                      while the cached ready count (read at start, after supervise) shows a backlog;
 *     batch   (c=50) - one handler given up to 50 jobs per fetch (batchSize 50), burstWhenBatchFull.
 *   (50 local workers of batchSize 1 each, burstWhenReadyExceeds 1, drained 5,000 jobs at 597/s
 *   against 5,574/s for `batch` on the bench machine, so c=50 gives pg-boss its batch handler.)
 * bulk: times n jobs through insert(), `chunk` per call, one call at a time (ids not asked back).
 * latency: LISTEN/NOTIFY, its fastest documented pick-up (useListenNotify on the instance and
 *   notify on the queue; it polls every 2 s without), one worker with batchSize 1; jobs sent one at a
 *   time through a second instance, push call -> handler start.
 */
import { PgBoss } from 'pg-boss';
import { chunks, QUEUE, runChild, sampleLatency, Starts, waitUntil } from './child.mjs';

const WORK_OPTIONS = {
  one: { batchSize: 1, localConcurrency: 1, burstWhenReadyExceeds: 1 },
  batch: { batchSize: 50, localConcurrency: 1, burstWhenBatchFull: true },
};

/** A started instance in `schema`; any 'error' it emits fails `onError` (or is thrown at stop). */
async function startBoss({ url, schema }, options = {}, onError = (error) => { throw error; }) {
  const boss = new PgBoss({ connectionString: url, schema, ...options });
  boss.on('error', (error) => onError(new Error(`pg-boss: ${error.message}`)));
  await boss.start();
  return boss;
}

async function insertAll(boss, n, chunk, returnId) {
  const ids = [];
  for (const payloads of chunks(n, chunk)) {
    const inserted = await boss.insert(QUEUE, payloads.map((data) => ({ data })), { returnId });
    if (returnId) ids.push(...inserted);
  }
  return ids;
}

/** How many of the queue's jobs are in each state. */
async function states(boss, schema) {
  const { rows } = await boss.getDb().executeSql(`select state::text, count(*)::int as n from "${schema}".job where name = $1 group by state`, [QUEUE]);
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

const unfinished = (counts) => Object.entries(counts).filter(([state]) => state !== 'completed').reduce((sum, [, n]) => sum + n, 0);

async function processJobs(params) {
  const loader = await startBoss(params);
  let pushed;
  try {
    await loader.createQueue(QUEUE);
    pushed = await insertAll(loader, params.n, 1_000, true);
    await loader.supervise(QUEUE);
  } finally {
    await loader.stop();
  }
  let fail;
  const failure = new Promise((_, reject) => (fail = reject));
  const boss = await startBoss(params, {}, fail);
  try {
    const ran = [];
    const start = performance.now();
    await boss.work(QUEUE, WORK_OPTIONS[params.mode], async (jobs) => {
      for (const job of jobs) ran.push(job.id);
    });
    const finished = (async () => {
      await waitUntil('every job to run', () => ran.length >= params.n);
      await waitUntil('every job to complete', async () => unfinished(await states(boss, params.schema)) === 0);
    })();
    await Promise.race([finished, failure]);
    const ms = performance.now() - start;
    const counts = await states(boss, params.schema);
    return { ms, pushed, ran, completed: counts.completed ?? 0 };
  } finally {
    await boss.stop({ graceful: true, timeout: 5_000 });
  }
}

async function bulk(params) {
  const boss = await startBoss(params);
  try {
    await boss.createQueue(QUEUE);
    const start = performance.now();
    await insertAll(boss, params.n, params.chunk, false);
    const ms = performance.now() - start;
    const counts = await states(boss, params.schema);
    return { ms, stored: counts.created ?? 0, states: counts };
  } finally {
    await boss.stop();
  }
}

async function latency(params) {
  let fail;
  const failure = new Promise((_, reject) => (fail = reject));
  const boss = await startBoss(params, { useListenNotify: true }, fail);
  const starts = new Starts();
  let producer;
  try {
    await boss.createQueue(QUEUE, { notify: true });
    producer = await startBoss(params, { supervise: false, schedule: false }, fail);
    await boss.work(QUEUE, { batchSize: 1 }, async ([job]) => starts.started(job.id));
    const sampled = sampleLatency(params.plan, starts, (i) => producer.send(QUEUE, { i, t: 0 }));
    const result = await Promise.race([sampled, failure]);
    await waitUntil('every job to complete', async () => unfinished(await states(boss, params.schema)) === 0, 10_000);
    return result;
  } finally {
    await producer?.stop();
    await boss.stop({ graceful: true, timeout: 5_000 });
  }
}

runChild((params) => ({ process: processJobs, bulk, latency })[params.op](params));
