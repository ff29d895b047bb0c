/**
 * A worker's heartbeat (SPEC 15): every few seconds it tells its backend who it is and what it
 * runs, and hands over the metrics it counted since the last beat, in the same call. The jobs' own
 * path never waits on it: counting is a few additions in memory (MetricTally), and a beat that
 * could not be delivered (the backend is down) is sent again as it was, before the next one.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Driver, MetricBucket, WorkerBeat } from '../contract/driver.ts';
import { MetricTally } from '../contract/metrics.ts';

/** How often a worker beats. */
export const BEAT_MS = 3_000;
/** How long a beat keeps a worker listed: it drops off this long after its last one. */
export const BEAT_LEASE_MS = 10_000;
/** How long a stopping worker waits for its last beat to land before it gives up on it. */
const LAST_BEAT_MS = 2_000;

/** What the worker says of itself, read at each beat. */
export interface WorkerState {
  running(): string[];
  jobsDone(): number;
  rssBytes(): number;
}

export interface HeartbeatIdentity {
  /** `--name`; default host:pid. */
  name?: string;
  queues: string[];
  concurrency: number;
}

export class Heartbeat {
  readonly tally = new MetricTally();
  private readonly id: string;
  private readonly name: string;
  private readonly host = hostname();
  private readonly startedAt = Date.now();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  /** A beat whose delivery failed: sent again, unchanged, before the next one. */
  private undelivered: { beat: WorkerBeat; metrics: MetricBucket[] } | undefined;

  constructor(
    private readonly driver: Driver,
    private readonly identity: HeartbeatIdentity,
    private readonly state: WorkerState,
    private readonly log: Logger,
  ) {
    this.name = identity.name ?? `${this.host}:${process.pid}`;
    this.id = `${this.host}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Beats now and every BEAT_MS until stop(). */
  start(): void {
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
    this.timer.unref();
  }

  /** The last beat, with the last counts, then off the list. */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    const last = (async () => {
      await this.beating;
      await this.beat();
      await this.driver.monitor.leave(this.id);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LAST_BEAT_MS)));
    await Promise.race([last.catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  private beat(): Promise<void> {
    // One beat at a time: a slow backend must not pile them up (nor send counts twice).
    this.beating ??= this.deliver().finally(() => (this.beating = undefined));
    return this.beating;
  }

  /**
   * Sends the beat that failed last time first, as it was: had it landed after all (its answer was
   * lost), its seq makes the backend skip it, so no count is added twice or lost. Then a new beat
   * with the counts since.
   */
  private async deliver(): Promise<void> {
    try {
      if (this.undelivered) {
        await this.send(this.undelivered);
        this.undelivered = undefined;
      }
      const beat: WorkerBeat = {
        id: this.id,
        name: this.name,
        host: this.host,
        pid: process.pid,
        queues: this.identity.queues,
        concurrency: this.identity.concurrency,
        running: this.state.running(),
        startedAt: this.startedAt,
        jobsDone: this.state.jobsDone(),
        rssBytes: this.state.rssBytes(),
        seq: (this.seq += 1),
      };
      this.undelivered = { beat, metrics: this.tally.drain() };
      await this.send(this.undelivered);
      this.undelivered = undefined;
    } catch (error) {
      // The loop says when the backend is down; a missed beat is worth a debug line only.
      this.log.debug({ err: (error as Error).message }, `heartbeat not delivered: ${(error as Error).message}`);
    }
  }

  private send({ beat, metrics }: { beat: WorkerBeat; metrics: MetricBucket[] }): Promise<void> {
    return this.driver.monitor.beat(beat, BEAT_LEASE_MS, metrics);
  }
}
