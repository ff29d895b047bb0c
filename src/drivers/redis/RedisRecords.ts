/**
 * Job records of the redis driver. A stored job's record is read from the keys that run it (jobs,
 * attempts, started, and the ready list, delayed or reserved zset it is in); a completed one is the
 * record turn.lua wrote to `done` in the ack; a failure is the failed store's record. A job's queue
 * is not known from its id, so find() asks every queue, one read-only script each, all at once.
 * Every script reads the keys of one queue only, so the same code runs on a Redis Cluster (the set
 * of queue names is one key, read apart).
 */
import type { Cluster, Redis } from 'ioredis';
import { FINISHED_STATES, type FailedJob, type JobRecord, type JobState, type ListOptions, type RecordPage, type Records } from '../../contract/driver.ts';
import { badCursor, failedJobRecord, pageLimit } from '../../contract/records.ts';
import type { QueueKeys, RedisKeys } from './keys.ts';
import { runScript, type Reply } from './scripts.ts';

type Call = <T>(what: string, work: () => Promise<T>) => Promise<T>;

/** Values per record in a reply of find.lua and list.lua (see lua/includes/record.lua). */
const RECORD_WIDTH = 6;

/** The most records one run of prune.lua forgets: a run over 10,000 records blocks Redis for about 10 ms. */
const PRUNE_RUN = 10_000;

/** A record as turn.lua writes it to `done`. */
interface DoneRecord {
  state: JobState;
  payload: string;
  result: string | null;
  error?: string | null;
  attempts: number;
  startedAt: number | null;
  finishedAt: number;
}

/** The failed hash's record (see RedisFailedStore): a FailedJob but for its id and failedAt. */
type StoredFailure = Omit<FailedJob, 'id' | 'failedAt'>;

/** find.lua and list.lua's keys of one queue, in their headers' order. */
function recordKeys(k: QueueKeys): string[] {
  return [k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.started, k.done, k.failed, k.failedAt, k.completed, k.cancelled, k.expired];
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

  async prune({ maxPerQueue }: { maxPerQueue: number }): Promise<number> {
    const most = Math.max(0, Math.floor(maxPerQueue));
    return this.call('prune job records', async () => {
      let forgotten = 0;
      for (const queue of await this.queues()) {
        const k = this.keys.queue(queue);
        let run: number;
        do {
          run = await runScript<number>(this.client, 'prune', [k.done, k.expires, k.completed, k.cancelled, k.expired], [most, PRUNE_RUN]);
          forgotten += run;
        } while (run === PRUNE_RUN);
      }
      return forgotten;
    });
  }

  /** The records of a find.lua or list.lua reply from `queue`. */
  private decode(queue: string, reply: Reply[]): JobRecord[] {
    const records: JobRecord[] = [];
    for (let i = 0; i + RECORD_WIDTH <= reply.length; i += RECORD_WIDTH) {
      const [id, kind, text, attempts, at, started] = reply.slice(i, i + RECORD_WIDTH).map((value) => (value === null ? null : String(value)));
      const base = { id: id!, queue, connection: this.connection };
      if (kind === 'done') {
        const done = JSON.parse(text!) as DoneRecord;
        records.push({ ...base, state: done.state, payload: done.payload, attempts: done.attempts, result: done.result, error: done.error ?? null, availableAt: null, startedAt: done.startedAt, finishedAt: done.finishedAt });
      } else if (kind === 'failed') {
        const stored = JSON.parse(text!) as StoredFailure;
        records.push(failedJobRecord({ ...stored, id: id!, connection: stored.connection ?? this.connection, queue, failedAt: Number(at) }));
      } else {
        records.push({ ...base, state: kind as JobState, payload: text!, attempts: Number(attempts), result: null, error: null, availableAt: numberOrNull(at), startedAt: numberOrNull(started), finishedAt: null });
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
