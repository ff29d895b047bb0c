/**
 * The overview: every queue's counts now, and its figures over the last hour and the last day
 * (queue/monitoring.ts), which queues are paused and how many workers are live. The live feed
 * reads it every SNAPSHOT_MS for all open pages at once; GET /api/overview reads the same.
 */
import { listWorkers, readMetrics, type QueueMetrics } from '../queue/monitoring.ts';
import type { DashboardContext } from './context.ts';

export interface Overview {
  /** When it was read, ms since the epoch. */
  at: number;
  connection: string;
  backend: string;
  paused: string[];
  workers: number;
  /** Per queue, by name; both windows carry the counts of now. */
  hour: QueueMetrics[];
  day: QueueMetrics[];
}

/**
 * How long the day's figures are reused. Its series steps are 15 minutes and a day's percentiles
 * move slowly, while reading a day of per-minute buckets costs about 60 times an hour's: read
 * every second it would be most of the dashboard's load on the backend.
 */
const DAY_REUSE_MS = 15_000;

export class OverviewReader {
  private day: { at: number; figures: Promise<QueueMetrics[]> } | undefined;

  constructor(private readonly context: DashboardContext) {}

  async read(): Promise<Overview> {
    const { manager, driver, connection, backend } = this.context;
    const [hour, day, signals, workers] = await Promise.all([
      readMetrics(manager, { connection, window: 'hour' }),
      this.dayFigures(),
      driver.signals(),
      listWorkers(manager, connection),
    ]);
    return { at: Date.now(), connection, backend, paused: signals.paused, workers: workers.length, hour, day };
  }

  private dayFigures(): Promise<QueueMetrics[]> {
    const now = Date.now();
    if (!this.day || now - this.day.at > DAY_REUSE_MS) {
      const figures = readMetrics(this.context.manager, { connection: this.context.connection, window: 'day' });
      // A failed read is not kept: the next snapshot tries again.
      figures.catch(() => {
        if (this.day?.figures === figures) this.day = undefined;
      });
      this.day = { at: now, figures };
    }
    return this.day.figures;
  }
}
