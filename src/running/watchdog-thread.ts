/**
 * The watchdog thread. The main thread stamps a heartbeat every 250 ms and keeps a note per running
 * job (watchdog-note.ts); after a while with no job to watch it pauses both, this thread's polls
 * too. If the heartbeat goes stale while a job is past its deadline, a job is blocking the event loop
 * (`while (true) {}`): nothing on the main thread can run again. We then start a short-lived `queue
 * internal:record-timeout` process that records the timeout with the job's own lease token, and
 * SIGKILL this process, so its supervisor starts a clean one. It imports nothing of the main
 * thread's but the note's layout: it must run while the main thread is stuck.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeNote, sharedViews, type WatchdogThreadData, type WatchedJob } from './watchdog-note.ts';

interface Overdue {
  deadline: number;
  frozenAtStart: number;
  request: WatchedJob;
}

const { memory, bin, cwd, staleMs, pollMs, freezeMs, worker } = workerData as WatchdogThreadData;
const { heartbeat, frozen, slots } = sharedViews(memory);
let lastPoll = performance.now();
/** Date.now() when the process last came out of a freeze: the main thread gets staleMs from then to beat. */
let resumedAt = 0;
const decoder = new TextDecoder();
/** Notes too large for a shared slot arrive by message. */
const posted = new Map<number, Overdue>();

/** Polling, or paused by the main thread while it has no job to watch. */
let poller: NodeJS.Timeout | undefined;

parentPort!.on('message', (message: { type: 'start' | 'end' | 'pause' | 'resume'; key: number } & Overdue) => {
  if (message.type === 'start') posted.set(message.key, message);
  else if (message.type === 'end') posted.delete(message.key);
  else if (message.type === 'pause') {
    clearInterval(poller);
    poller = undefined;
  } else if (poller === undefined) {
    // The pause was no freeze: the gap is measured from now.
    lastPoll = performance.now();
    poller = setInterval(poll, pollMs);
  }
});

poller = setInterval(poll, pollMs);
// Set up: the main thread may wait for this (Watchdog.ready()) before it times anything.
parentPort!.postMessage({ type: 'ready' });

function poll(): void {
  // This thread not having run for far longer than its poll means the whole process was stopped
  // (SIGSTOP, a paused container, a frozen VM): that time is no job's, and the main thread has not
  // had a chance to beat since. A thread that merely waited for a busy CPU is counted the same way,
  // which only ever gives jobs more time.
  const polled = performance.now();
  const gap = polled - lastPoll - pollMs;
  lastPoll = polled;
  const now = Date.now();
  if (gap > freezeMs) {
    frozen[0]! += gap;
    resumedAt = now;
    return;
  }
  if (now - Math.max(heartbeat[0]!, resumedAt) < staleMs) return;
  const frozenNow = frozen[0]!;
  const overdue = [...posted.values()].filter((job) => now > job.deadline + (frozenNow - job.frozenAtStart));
  for (const { header, note } of slots) {
    const [deadline = 0, length = 0, frozenAtStart = 0] = header;
    if (deadline > 0 && now > deadline + (frozenNow - frozenAtStart)) {
      // Copy out of shared memory before decoding: TextDecoder refuses shared views.
      overdue.push({ deadline, frozenAtStart, request: decodeNote(decoder.decode(note.slice(0, length))) });
    }
  }
  if (overdue.length === 0) return;
  for (const { request } of overdue) {
    // A directory only this user can enter, under a name no one can guess: the recorder trusts
    // what it reads there.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'queue-timeout-')), 'record.json');
    writeFileSync(file, JSON.stringify({ ...worker, ...request }));
    const recorder = spawn(process.execPath, [bin, 'internal:record-timeout', file], { cwd, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    recorder.unref();
    log(request, `job ${request.jobId} (${request.job}) blocked the event loop past its ${request.timeoutSeconds}s timeout: recording the timeout and ending this worker process`);
  }
  process.kill(process.pid, 'SIGKILL');
}

function log(request: WatchedJob, msg: string): void {
  const line = JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, jobId: request.jobId, job: request.job, queue: request.reservation.queue, outcome: 'timed-out', msg });
  writeSync(1, `${line}\n`);
}
