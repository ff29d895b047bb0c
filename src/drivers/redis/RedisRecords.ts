/**
 * Job records of the redis driver. A stored job's record is read from the keys that run it (jobs,
 * attempts, started, progress, and the ready list of its priority, delayed or reserved zset it is
 * in); a completed, cancelled or expired one is the record written to `done` by the script that
 * finished it (turn.lua in the ack and the take, cancel.lua, cancel_running.lua, expire.lua); a
 * failure is the failed store's record. A job's queue is not known from its id, so find() and
 * cancel() ask every queue, one script each, all at once. Every script reads the keys of one queue
 * only, so the same code runs on a Redis Cluster (the set of queue names and the worker signals
 * are keys of their own, read and written apart).
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { FINISHED_STATES, type CancelOutcome, type FailedJob, type FinishedState, type JobRecord, type JobState, type Keeping, type ListOptions, type RecordPage, type Records } from '../../contract/driver.ts';
import { badCursor, DEFAULT_KEEPING, failedJobRecord, pageLimit } from '../../contract/records.ts';
import { cancelSignal } from '../../contract/signals.ts';
import { keyList, type QueueKeys, type RedisKeys } from './keys.ts';
import { unpackPayload } from './packed.ts';
import { CANCEL_KEYS, EXPIRE_KEYS, RECORD_KEYS } from './script-keys.ts';
import { runScript, type Reply } from './scripts.ts';
import { keepingArgs } from './turn-wire.ts';

type Call = <T>(what: string, work: () => Promise<T>) => Promise<T>;

/** Values per record in a reply of find.lua and list.lua (see lua/includes/record.lua). */
const RECORD_WIDTH = 7;

/** The most records one run of prune.lua or clean.lua forgets: a run over 10,000 records blocks Redis for about 10 ms. */
const PRUNE_RUN = 10_000;

/** The most jobs one run of expire.lua ends: each writes a record, and one waiting in the ready list costs an LREM. */
const EXPIRE_RUN = 1_000;

/** Which outcome wins when queues answer a cancel differently (the same id on two queues): the one that did most. */
const CANCEL_RANK: CancelOutcome[] = ['cancelled', 'requested', 'finished', 'unknown'];

/** A record as the scripts write it to `done` (see lua/includes/finish.lua). */
interface DoneRecord {
  state: JobState;
  payload: string;
  result: string | null;
  /** Absent from records written before progress was kept. */
  progress?: string | null;
  error?: string | null;
  attempts: number;
  startedAt: number | null;
  finishedAt: number;
}

/** The failed hash's record (see RedisFailedStore): a FailedJob but for its id and failedAt. */
type StoredFailure = Omit<FailedJob, 'id' | 'failedAt'>;

/** find.lua and list.lua's keys of one queue. */
function recordKeys(k: QueueKeys): readonly string[] {
  return keyList(k, RECORD_KEYS);
}

export class RedisRecords implements Records {
  constructor(
    private readonly connection: string,
    private readonly keys: RedisKeys,
    private readonly client: Redis | Cluster,
    private readonly call: Call,
  ) {}

  private async queues(queue?: string): Promise<string[]> {
    if (queue !== undefined) return [queue];
    return (await this.client.smembers(this.keys.queues)).sort();
  }

  async find(id: string): Promise<JobRecord | undefined> {
    return this.call('find a job', async () => {
      const queues = await this.queues();
      const replies = await Promise.all(queues.map((queue) => runScript<Reply[]>(this.client, 'find', recordKeys(this.keys.queue(queue)), [id])));
      // A stored job (it may have been pushed again after an earlier run finished) comes first.
      const found = replies.flatMap((reply, i) => this.decode(queues[i]!, reply));
      return found.find((record) => !FINISHED_STATES.includes(record.state)) ?? found.sort(newestFirst)[0];
    });
  }

  /**
   * The cursor is how many records came before the next page. Without a queue, each queue's first
   * (skipped + limit) records are merged, newest first, and sliced: simple and exact, and cheap at
   * the depths a CLI or a dashboard pages to.
   */
  async list({ state, queue, limit, cursor }: ListOptions): Promise<RecordPage> {
    const size = pageLimit(limit);
    const skipped = cursor === undefined ? 0 : Number(cursor);
    if (cursor !== undefined && (!/^\d+$/.test(cursor) || !Number.isSafeInteger(skipped))) throw badCursor(cursor);
    if (state === 'blocked') return { records: [] };
    const records = await this.call('list jobs', async () => {
      if (queue !== undefined) return this.page(queue, state, skipped, size + 1);
      const queues = await this.queues();
      const pages = await Promise.all(queues.map((q) => this.page(q, state, 0, skipped + size + 1)));
      // Stable: records without a time (ready) keep the queues' order and their own.
      return pages.flat().sort(newestFirst).slice(skipped);
    });
    return { records: records.slice(0, size), ...(records.length > size ? { cursor: String(skipped + size) } : {}) };
  }

  private async page(queue: string, state: JobState, skip: number, count: number): Promise<JobRecord[]> {
    return this.decode(queue, await runScript<Reply[]>(this.client, 'list', recordKeys(this.keys.queue(queue)), [state, skip, count]));
  }

  /** Per queue: ends the waiting jobs past their expiry (expire.lua), then forgets records (prune.lua). */
  async prune({ maxPerQueue, keepMs }: { maxPerQueue: number; keepMs?: number }): Promise<number> {
    const most = Math.max(0, Math.floor(maxPerQueue));
    const expiredKeep = keepingArgs({ keepMs: keepMs ?? DEFAULT_KEEPING.keepMs, maxPerQueue });
    return this.call('prune job records', async () => {
      // Read before the requests: a signal is written after its request, so a signal read here
      // whose request is gone below is one left behind.
      const signals = await this.client.hgetall(this.keys.signals);
      const queues = await this.queues();
      await this.dropLeftCancelSignals(signals, queues);
      let forgotten = 0;
      for (const queue of queues) {
        const k = this.keys.queue(queue);
        let run: number;
        do {
          run = await runScript<number>(this.client, 'expire', keyList(k, EXPIRE_KEYS), [...expiredKeep, EXPIRE_RUN, this.keys.finished]);
        } while (run === EXPIRE_RUN);
        do {
          run = await runScript<number>(this.client, 'prune', [k.done, k.expires, k.completed, k.cancelled, k.expired], [most, PRUNE_RUN]);
          forgotten += run;
        } while (run === PRUNE_RUN);
      }
      return forgotten;
    });
  }

  /**
   * Deletes the `cancel:<id>` worker signals whose job has no cancel request on any queue (it
   * finished before its worker saw the request, was cancelled at its next take, or the process
   * that cancelled it died before deleting the signal), unless written again since they were read.
   */
  private async dropLeftCancelSignals(signals: Record<string, string>, queues: string[]): Promise<void> {
    const asked = Object.keys(signals).filter((name) => name.startsWith(cancelSignal('')));
    if (asked.length === 0) return;
    const pending = new Set((await Promise.all(queues.map((queue) => this.client.hkeys(this.keys.queue(queue).cancels)))).flat().map(cancelSignal));
    const left = asked.filter((name) => !pending.has(name));
    if (left.length > 0) await runScript(this.client, 'unsignal', [this.keys.signals], left.flatMap((name) => [name, signals[name]!]));
  }

  /**
   * cancel.lua on every queue at once (one call id, so a re-sent script answers as it first did);
   * only the queue that has the job changes anything. A job whose lease holds gets a request in its
   * queue's keys, then the `cancel:<id>` signal here: see cancel.lua for why that order is safe.
   */
  async cancel(id: string, keeping: Keeping): Promise<CancelOutcome> {
    const call = randomUUID();
    return this.call('cancel a job', async () => {
      const replies = await Promise.all((await this.queues()).map((queue) => {
        const k = this.keys.queue(queue);
        const keys = [...keyList(k, CANCEL_KEYS), k.once(call)];
        return runScript<[CancelOutcome, number]>(this.client, 'cancel', keys, [id, ...keepingArgs(keeping), this.keys.finished]);
      }));
      const outcome = CANCEL_RANK.find((o) => replies.some(([answer]) => answer === o)) ?? 'unknown';
      if (outcome === 'requested') {
        const [, requestedAt] = replies.find(([answer]) => answer === 'requested')!;
        await this.client.hset(this.keys.signals, cancelSignal(id), requestedAt);
      }
      return outcome;
    });
  }

  /** clean.lua per queue, a run at a time, until a run deletes less than its allowance. */
  async clean({ state, queue, olderThanMs }: { state: FinishedState; queue?: string; olderThanMs?: number }): Promise<number> {
    const age = olderThanMs === undefined ? 'all' : Math.max(0, Math.round(olderThanMs));
    return this.call('clean job records', async () => {
      let deleted = 0;
      for (const name of await this.queues(queue)) {
        const k = this.keys.queue(name);
        const keys = (call: string) => (state === 'failed' ? [k.failed, k.failedAt, k.once(call)] : [k.done, k[state], k.once(call), k.expires]);
        let run: number;
        do {
          run = await runScript<number>(this.client, 'clean', keys(randomUUID()), [age, PRUNE_RUN]);
          deleted += run;
        } while (run === PRUNE_RUN);
      }
      return deleted;
    });
  }

  /** The records of a find.lua or list.lua reply from `queue`. */
  private decode(queue: string, reply: Reply[]): JobRecord[] {
    const records: JobRecord[] = [];
    for (let i = 0; i + RECORD_WIDTH <= reply.length; i += RECORD_WIDTH) {
      const [id, kind, text, attempts, at, started, progress] = reply.slice(i, i + RECORD_WIDTH).map((value) => (value === null ? null : String(value)));
      const base = { id: id!, queue, connection: this.connection };
      if (kind === 'done') {
        const done = JSON.parse(text!) as DoneRecord;
        records.push({ ...base, state: done.state, payload: payloadOf(id!, queue, done.payload), attempts: done.attempts, result: done.result, error: done.error ?? null, progress: done.progress ?? null, availableAt: null, startedAt: done.startedAt, finishedAt: done.finishedAt });
      } else if (kind === 'failed') {
        const stored = JSON.parse(text!) as StoredFailure;
        records.push(failedJobRecord({ ...stored, id: id!, connection: stored.connection ?? this.connection, queue, failedAt: Number(at) }));
      } else {
        records.push({ ...base, state: kind as JobState, payload: payloadOf(id!, queue, text!), attempts: Number(attempts), result: null, error: null, progress: progress ?? null, availableAt: numberOrNull(at), startedAt: numberOrNull(started), finishedAt: null });
      }
    }
    return records;
  }
}

function numberOrNull(value: string | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Newest first by the time a record sorts by: finished, then when it may run or its lease ends. */
function sortTime(record: JobRecord): number {
  return record.finishedAt ?? record.availableAt ?? 0;
}

function newestFirst(a: JobRecord, b: JobRecord): number {
  return sortTime(b) - sortTime(a);
}

/**
 * A record's payload from what the scripts gave: the stored form (packed.ts), or, for a job pushed
 * by hand into a ready list, which has none, the list element itself (the scripts give its id).
 */
function payloadOf(id: string, queue: string, text: string): string {
  return text === id ? text : unpackPayload(id, queue, text);
}
