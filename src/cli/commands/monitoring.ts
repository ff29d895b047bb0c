/**
 * Seeing a connection run from the terminal (SPEC 15): `queue workers`, `queue metrics` and
 * `queue monitor`, the last for cron, a health probe or CI (Laravel's queue:monitor).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { checkThresholds, listWorkers, readMetrics, type MetricsWindow, type Percentiles } from '../../queue/monitoring.ts';
import { prometheusText } from '../../queue/prometheus.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { note, printJson, printTable, say } from '../output.ts';
import { queueList, seconds, wholeNumber } from '../parse.ts';

/** The exit code of `queue monitor` when a threshold is passed (1 stays "could not check"). */
export const MONITOR_BREACHED = 2;

export function registerWorkers(program: Command, app: CliApp): void {
  const command = withConnection(program.command('workers').description("the workers whose heartbeat is live: what each runs, how much it did, its memory"))
    .option('--json', 'print JSON');
  examples(command, ['queue workers', 'queue workers --json']);
  command.action(async (flags: { connection?: string; json?: boolean }) => {
    const workers = await listWorkers(await app.queue(), flags.connection);
    if (flags.json) return printJson(workers);
    if (workers.length === 0) return say('no live workers (a worker beats every 3 s; one that stops drops off within 10 s)');
    const now = Date.now();
    await printTable(
      ['name', 'queues', 'concurrency', 'running', 'jobs done', 'rss', 'up', 'last beat'],
      workers.map((w) => [w.name, w.queues.join(','), w.concurrency, w.running.length, w.jobsDone, `${Math.round(w.rssBytes / 1_048_576)} MB`, age(now - w.startedAt), `${age(now - w.beatAt)} ago`]),
    );
  });
}

export function registerMetrics(program: Command, app: CliApp): void {
  const command = withConnection(program.command('metrics').description('per queue: jobs done, failed and retried, wait and run times, over the last hour or day'))
    .option('-q, --queue <name>', 'one queue only')
    .option('--window <hour|day>', 'the window the figures cover', windowName, 'hour')
    .option('--json', 'print JSON (with a per-minute series)')
    .option('--format <prometheus>', 'print Prometheus text (all-time counters and histograms, gauges now)', formatName);
  examples(command, ['queue metrics', 'queue metrics --queue emails --window day', 'queue metrics --format prometheus']);
  command.action(async (flags: { connection?: string; queue?: string; window: MetricsWindow; json?: boolean; format?: 'prometheus' }) => {
    const manager = await app.queue();
    if (flags.format === 'prometheus') {
      process.stdout.write(await prometheusText(await manager.driver(flags.connection)));
      return;
    }
    const figures = await readMetrics(manager, { connection: flags.connection, queue: flags.queue, window: flags.window });
    if (flags.json) return printJson(figures);
    if (figures.length === 0) return say('no queues with jobs or figures yet');
    await printTable(
      ['queue', 'ready', 'oldest ready', `done/${flags.window}`, 'per min', 'failed', 'retried', 'wait p50/p95', 'run p50/p95'],
      figures.map((q) => [
        q.queue, q.counts.ready, q.oldestReadyMs === null ? '-' : age(q.oldestReadyMs), q.completed, q.perMinute, q.failed, q.retried, spread(q.wait), spread(q.run),
      ]),
    );
  });
}

export function registerMonitor(program: Command, app: CliApp): void {
  const command = withConnection(program.command('monitor').description('exit 0 when the queues are within their thresholds, 2 naming each one passed (for cron, a probe or CI)'))
    .requiredOption('-q, --queue <names>', 'queues to check, comma-separated', queueList)
    .option('--max-size <n>', 'most jobs waiting (ready and delayed)', wholeNumber)
    .option('--max-wait <seconds>', 'most seconds the oldest ready job may have waited', seconds)
    .option('--max-failed-per-minute <n>', 'most jobs failed for good in the last 60 s', wholeNumber)
    .addHelpText('after', `\nExit codes: 0 all within, ${MONITOR_BREACHED} a threshold passed (one line each on stderr), 1 could not check.`);
  examples(command, ['queue monitor --queue emails --max-size 1000 --max-wait 60', 'queue monitor --queue default,emails --max-failed-per-minute 10']);
  command.action(async (flags: { connection?: string; queue: string[]; maxSize?: number; maxWait?: number; maxFailedPerMinute?: number }) => {
    const breaches = await checkThresholds(await app.queue(), { queues: flags.queue, maxSize: flags.maxSize, maxWait: flags.maxWait, maxFailedPerMinute: flags.maxFailedPerMinute }, flags.connection);
    for (const breach of breaches) note(breach.message);
    if (breaches.length > 0) {
      process.exitCode = MONITOR_BREACHED;
      return;
    }
    say(`ok: ${flags.queue.join(', ')} within ${thresholdsNamed(flags)}`);
  });
}

function thresholdsNamed(flags: { maxSize?: number; maxWait?: number; maxFailedPerMinute?: number }): string {
  return [
    flags.maxSize !== undefined && `--max-size ${flags.maxSize}`,
    flags.maxWait !== undefined && `--max-wait ${flags.maxWait}`,
    flags.maxFailedPerMinute !== undefined && `--max-failed-per-minute ${flags.maxFailedPerMinute}`,
  ].filter(Boolean).join(', ');
}

function windowName(value: string): MetricsWindow {
  if (value !== 'hour' && value !== 'day') throw new InvalidArgumentError(`expected hour or day, got '${value}'`);
  return value;
}

function formatName(value: string): 'prometheus' {
  if (value !== 'prometheus') throw new InvalidArgumentError(`expected prometheus (or --json for JSON), got '${value}'`);
  return value;
}

/** "12ms / 340ms", or "-" when nothing was measured. */
function spread(p: Percentiles | null): string {
  return p ? `${ms(p.p50Ms)} / ${ms(p.p95Ms)}` : '-';
}

function ms(value: number): string {
  return value < 1_000 ? `${value}ms` : `${(value / 1_000).toFixed(value < 10_000 ? 1 : 0)}s`;
}

/** 45s, 12m, 3h, 2d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
