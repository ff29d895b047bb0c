// The watchdog thread (plain JavaScript: it must start even when the main thread is stuck, and needs
// no TypeScript loader). The main thread stamps a heartbeat every 250 ms and tells us when each job
// starts and ends. If the heartbeat goes stale while a job is past its deadline, a job is blocking
// the event loop (`while (true) {}`): nothing on the main thread can run again. We then start a
// short-lived `queue internal:record-timeout` process that records the timeout with the job's own
// lease token, and SIGKILL this process, so its supervisor starts a clean one.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { memory, slots, slotBytes, bin, cwd, staleMs, pollMs, freezeMs, headerBytes, slotHeaderBytes, worker, separator } = workerData;
const heartbeat = new Float64Array(memory, 0, 1);
// Written here only: how long the whole process has been frozen (see watchdog.ts).
const frozen = new Float64Array(memory, 8, 1);
let lastPoll = performance.now();
/** Date.now() when the process last came out of a freeze: the main thread gets staleMs from then to beat. */
let resumedAt = 0;
const decoder = new TextDecoder();
/** Notes too large for a shared slot arrive by message. */
const posted = new Map();

parentPort.on('message', (message) => {
  if (message.type === 'start') posted.set(message.key, message);
  else if (message.type === 'end') posted.delete(message.key);
});

/** A note from shared memory (see watchdog.ts): the fields in order, the payload taking the rest. */
function readNote(note) {
  const fields = [];
  let from = 0;
  for (let i = 0; i < 8; i += 1) {
    const end = note.indexOf(separator, from);
    fields.push(note.slice(from, end));
    from = end + separator.length;
  }
  const [jobId, job, timeoutSeconds, handle, queue, attempts, token, leaseExpiresAt] = fields;
  return {
    jobId,
    job,
    timeoutSeconds: Number(timeoutSeconds),
    reservation: { handle, queue, attempts: Number(attempts), token, leaseExpiresAt: Number(leaseExpiresAt), payload: note.slice(from) },
  };
}

setInterval(() => {
  // This thread not having run for far longer than its poll means the whole process was stopped
  // (SIGSTOP, a paused container, a frozen VM): that time is no job's, and the main thread has not
  // had a chance to beat since. A thread that merely waited for a busy CPU is counted the same way,
  // which only ever gives jobs more time.
  const polled = performance.now();
  const gap = polled - lastPoll - pollMs;
  lastPoll = polled;
  const now = Date.now();
  if (gap > freezeMs) {
    frozen[0] += gap;
    resumedAt = now;
    return;
  }
  if (now - Math.max(heartbeat[0], resumedAt) < staleMs) return;
  const frozenNow = frozen[0];
  const overdue = [...posted.values()].filter((job) => now > job.deadline + (frozenNow - job.frozenAtStart));
  for (let slot = 0; slot < slots; slot += 1) {
    const offset = headerBytes + slot * (slotHeaderBytes + slotBytes);
    const [deadline, length, frozenAtStart] = new Float64Array(memory, offset, 3);
    if (deadline > 0 && now > deadline + (frozenNow - frozenAtStart)) {
      // Copy out of shared memory before decoding: TextDecoder refuses shared views.
      const bytes = new Uint8Array(memory, offset + slotHeaderBytes, length).slice();
      overdue.push({ deadline, request: readNote(decoder.decode(bytes)) });
    }
  }
  if (overdue.length === 0) return;
  for (const job of overdue) {
    // A directory only this user can enter, under a name no one can guess: the recorder trusts
    // what it reads there.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'queue-timeout-')), 'record.json');
    writeFileSync(file, JSON.stringify({ ...worker, ...job.request }));
    const recorder = spawn(process.execPath, [bin, 'internal:record-timeout', file], { cwd, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    recorder.unref();
    log(job, `job ${job.request.jobId} (${job.request.job}) blocked the event loop past its ${job.request.timeoutSeconds}s timeout: recording the timeout and ending this worker process`);
  }
  process.kill(process.pid, 'SIGKILL');
}, pollMs);

function log(job, msg) {
  const line = JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, jobId: job.request.jobId, job: job.request.job, queue: job.request.reservation.queue, outcome: 'timed-out', msg });
  writeSync(1, `${line}\n`);
}
