/**
 * The monitoring part of the driver contract (SPEC 15): workers' heartbeats, and per-queue metrics
 * in per-minute buckets. A worker counts what it ran in memory (metrics.ts) and hands the counts
 * to the backend with its heartbeat, every few seconds: the jobs' own path pays no round trip for
 * them. Times are ms since the epoch.
 */

/** What a worker says of itself in each heartbeat. */
export interface WorkerBeat {
  /** Unique to one worker for its whole life (its host, pid and a random part). */
  id: string;
  /** `--name`, or host:pid. */
  name: string;
  host: string;
  pid: number;
  /** In priority order. */
  queues: string[];
  concurrency: number;
  /** Ids of the jobs it runs now. */
  running: string[];
  /** When it started, by its own clock. */
  startedAt: number;
  /** Jobs it finished (done, failed, released for a retry, cancelled). */
  jobsDone: number;
  rssBytes: number;
  /**
   * Grows by one with each beat of this worker. A beat whose `seq` is not above the last one
   * applied for its id changes nothing: a client that sends a beat again after a dropped
   * connection must not count its metrics twice.
   */
  seq: number;
}

/** A live worker, as the backend has it. */
export interface WorkerInfo extends WorkerBeat {
  /** When its last beat landed, by the backend's clock. */
  beatAt: number;
  /** When it drops off unless it beats again (beatAt + the lease it asked for). */
  expiresAt: number;
}

/**
 * Counts of one queue in one minute. The field names are metrics.ts's (the backend adds them up
 * and never reads them); every value is a whole number.
 */
export interface MetricBucket {
  queue: string;
  /** The minute's start (a multiple of 60,000); 0 for the all-time totals. */
  minute: number;
  counts: Record<string, number>;
}

/** How long per-minute buckets are kept: a day, and an hour to spare. */
export const METRIC_KEEP_MS = 25 * 3_600_000;

export interface MonitorStore {
  /**
   * A worker's heartbeat: it is listed until `leaseMs` from now (by the backend's clock), and each
   * of `metrics` is added to its queue's minute bucket and to the queue's all-time totals
   * (`minute` 0). Atomic per queue and applied once per `seq` (see WorkerBeat.seq). Also drops
   * buckets older than METRIC_KEEP_MS and workers whose lease ran out.
   */
  beat(beat: WorkerBeat, leaseMs: number, metrics: MetricBucket[]): Promise<void>;
  /** A worker that stops takes itself off the list at once. */
  leave(id: string): Promise<void>;
  /** The workers whose lease has not run out, by name. */
  workers(): Promise<WorkerInfo[]>;
  /** The per-minute buckets from the minute of `since` on (of one queue, or of all), oldest first. */
  metrics(options: { since: number; queue?: string }): Promise<MetricBucket[]>;
  /**
   * When the job that has waited longest on `queue` among those next in line became ready (SQL:
   * its available_at; Redis: its envelope's availableAt or createdAt); null when none is ready.
   */
  oldestReady(queue: string): Promise<number | null>;
  /** The all-time totals (minute 0) of one queue, or of every queue that has any. */
  totals(options?: { queue?: string }): Promise<MetricBucket[]>;
}
