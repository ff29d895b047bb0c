/**
 * The child of the memory benchmark: one in-process Worker on Redis (prefix BENCH_PREFIX) drains
 * the jobs the harness pushed, recording each id to BENCH_RECORD_FILE and sampling its own RSS
 * every 1,000 jobs; at the end it prints one JSON line: { processed, samples: [[jobs, rssBytes]] }.
 */
import { REDIS_URL } from '../helpers/backends.ts';
import { newWorker, openOurs, workerOptions } from './lib/ours.ts';
import { flushRecords, recordToFile, setRunHook } from './project/sink.ts';

const SAMPLE_EVERY = 1_000;
const prefix = process.env.BENCH_PREFIX;
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 1);
if (!prefix || !process.env.BENCH_RECORD_FILE) throw new Error('memory-worker: set BENCH_PREFIX and BENCH_RECORD_FILE');

const ours = await openOurs({ driver: 'redis', url: REDIS_URL, prefix });
const samples: [number, number][] = [[0, process.memoryUsage.rss()]];
let count = 0;
setRunHook((id) => {
  recordToFile(id);
  if (++count % SAMPLE_EVERY === 0) samples.push([count, process.memoryUsage.rss()]);
});
const worker = newWorker(ours, workerOptions(concurrency));
const reason = await worker.run();
flushRecords();
await ours.close();
process.stdout.write(`${JSON.stringify({ processed: worker.jobsProcessed, stop: reason.code, samples })}\n`);
