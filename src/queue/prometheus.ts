/**
 * A connection's figures in the Prometheus text exposition format (version 0.0.4), for
 * `queue metrics --format prometheus` and the dashboard's /metrics. Counters and histograms come
 * from the all-time totals (never the per-minute buckets, which age out: a counter must not go
 * down); gauges are read now. Names and units follow Prometheus's conventions: `_total` counters,
 * histograms in seconds, one `connection` and `queue` label each.
 *
 * Written here rather than with prom-client: its registry counts in the process that observes,
 * while these figures are counted by many workers and read back from the backend, and its
 * histograms cannot be loaded from buckets added up elsewhere.
 */
import { JOB_STATES, type Driver } from '../contract/driver.ts';
import { HISTOGRAM_BOUNDS_MS, type Histogram } from '../contract/metrics.ts';
import { oldestReady } from './monitoring.ts';

type Labels = Record<string, string>;

/** The exposition of one connection. */
export async function prometheusText(driver: Driver): Promise<string> {
  const [totals, stats, workers] = await Promise.all([driver.monitor.totals(), driver.stats(), driver.monitor.workers()]);
  const oldest = await oldestReady(driver, stats);
  const now = Date.now();
  const connection = driver.connection;
  const out: string[] = [];

  for (const [name, field, help] of [
    ['queue_jobs_completed_total', 'completed', 'Jobs that ran to their end.'],
    ['queue_jobs_failed_total', 'failed', 'Jobs that failed for good.'],
    ['queue_jobs_retried_total', 'retried', 'Tries that failed and were released to run again.'],
  ] as const) {
    family(out, name, 'counter', help);
    for (const t of totals) sample(out, name, { connection, queue: t.queue }, t.counts[field] ?? 0);
  }
  for (const [histogram, help] of [
    ['wait', 'Time from dispatch (or the end of its delay) to the start of the first try.'],
    ['run', 'Time a try ran.'],
  ] as const) {
    const name = `queue_job_${histogram}_seconds`;
    family(out, name, 'histogram', help);
    for (const t of totals) histogramSamples(out, name, { connection, queue: t.queue }, t.counts, histogram);
  }

  family(out, 'queue_jobs', 'gauge', 'Jobs by state now (completed and cancelled: the records kept).');
  for (const s of stats) {
    for (const state of JOB_STATES) {
      if (state in s) sample(out, 'queue_jobs', { connection, queue: s.queue, state }, (s as unknown as Record<string, number>)[state]!);
    }
  }
  family(out, 'queue_oldest_ready_job_age_seconds', 'gauge', 'How long the job waiting longest among those next in line has been ready.');
  for (const s of stats) {
    const since = oldest.get(s.queue);
    sample(out, 'queue_oldest_ready_job_age_seconds', { connection, queue: s.queue }, since == null ? 0 : Math.max(0, now - since) / 1000);
  }
  family(out, 'queue_workers', 'gauge', 'Workers whose heartbeat is live.');
  sample(out, 'queue_workers', { connection }, workers.length);
  return `${out.join('\n')}\n`;
}

function family(out: string[], name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function sample(out: string[], name: string, labels: Labels, value: number): void {
  const rendered = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabel(v)}"`).join(',');
  out.push(`${name}{${rendered}} ${Number.isInteger(value) ? value : value.toFixed(3)}`);
}

/** Cumulative buckets with `le` in seconds, then _sum (seconds) and _count. */
function histogramSamples(out: string[], name: string, labels: Labels, counts: Record<string, number>, histogram: Histogram): void {
  let cumulative = 0;
  for (const bound of HISTOGRAM_BOUNDS_MS) {
    cumulative += counts[`${histogram}_${bound}`] ?? 0;
    sample(out, `${name}_bucket`, { ...labels, le: String(bound / 1000) }, cumulative);
  }
  const count = counts[`${histogram}_n`] ?? 0;
  sample(out, `${name}_bucket`, { ...labels, le: '+Inf' }, count);
  sample(out, `${name}_sum`, labels, (counts[`${histogram}_ms`] ?? 0) / 1000);
  sample(out, `${name}_count`, labels, count);
}

/** Backslash, double quote and line feed are escaped in a label value. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
