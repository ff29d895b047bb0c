import type { Command } from 'commander';
import { backendKind } from '../../config/define.ts';
import type { QueueStats } from '../../contract/driver.ts';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, printJson, printTable, say } from '../output.ts';

export function registerStatus(program: Command, app: CliApp): void {
  const command = withConnection(program.command('status').description('jobs per queue: ready, delayed, reserved, failed, and the records kept of completed and cancelled ones'))
    .option('--json', 'print JSON')
    .option('-w, --watch', 'refresh every second (in place on a terminal), with how fast each queue drains');
  examples(command, ['queue status', 'queue status --json', 'queue status --watch']);
  command.action(async (flags: { connection?: string; json?: boolean; watch?: boolean }) => {
    if (flags.watch && flags.json) throw new QueueError('INVALID_ARGUMENT', '--watch draws a table; for JSON, run `queue status --json` as often as you need');
    const manager = await app.queue();
    const driver = await manager.driver(flags.connection);
    const backend = backendKind(manager.config.connections[driver.connection]!);
    const where = `${driver.connection} (${backend})`;
    if (!flags.watch) {
      const [stats, signals, workers] = await Promise.all([driver.stats(), driver.signals(), driver.monitor.workers()]);
      if (flags.json) {
        const paused = new Set(signals.paused);
        printJson({ connection: driver.connection, backend, queues: stats.map((s) => ({ ...s, paused: paused.has(s.queue) })), paused: signals.paused, restartRequestedAt: signals.restartRequestedAt, workers: workers.length });
        return;
      }
      await printStatus(where, stats, new Set(signals.paused));
      say(liveWorkers(workers.length));
      return;
    }
    // The last few refreshes: completed counts arrive with heartbeats every few seconds, so their
    // rate is taken over the oldest of these, the rest over the last refresh.
    const history: Snapshot[] = [];
    for (;;) {
      const [stats, signals, workers, totals] = await Promise.all([driver.stats(), driver.signals(), driver.monitor.workers(), driver.monitor.totals()]);
      const now: Snapshot = { at: Date.now(), stats: new Map(stats.map((s) => [s.queue, s])), completed: new Map(totals.map((t) => [t.queue, t.counts.completed ?? 0])) };
      if (process.stdout.isTTY) process.stdout.write('\u001b[H\u001b[2J');
      say(`${formatTime(now.at)}  every 1s, Ctrl-C to stop`);
      const previous = history.at(-1);
      await printStatus(where, stats, new Set(signals.paused), previous && ((queue) => rate(history[0]!, previous, now, queue)));
      say(liveWorkers(workers.length));
      history.push(now);
      if (history.length > 6) history.shift();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });
}

/** One refresh of --watch: the counts by state, and the all-time completed count per queue. */
interface Snapshot {
  at: number;
  stats: Map<string, QueueStats>;
  completed: Map<string, number>;
}

function liveWorkers(n: number): string {
  return n === 0 ? 'no live workers (`queue workers` lists them once they beat)' : `${n} live worker${n === 1 ? '' : 's'} (\`queue workers\` for each)`;
}

async function printStatus(where: string, stats: QueueStats[], paused: Set<string>, drain?: (queue: QueueStats) => string[]): Promise<void> {
  if (stats.length === 0) {
    say(`connection ${where}: no jobs`);
    return;
  }
  const head = ['connection', 'queue', 'ready', 'delayed', 'reserved', 'failed', 'completed', 'cancelled'];
  const rows = stats.map((s): (string | number)[] => [where, paused.has(s.queue) ? `${s.queue} (paused)` : s.queue, s.ready, s.delayed, s.reserved, s.failed, s.completed, s.cancelled]);
  if (drain) {
    head.push('done/s', 'waiting Δ/s', 'failed Δ/s');
    stats.forEach((s, i) => rows[i]!.push(...drain(s)));
  }
  await printTable(head, rows);
}

/**
 * Per second: jobs completed since `earlier` (the workers' counts arrive with their heartbeats
 * every few seconds: over one refresh the figure would jump), and how fast the queue's waiting
 * jobs (ready, delayed, reserved) and failed records changed since `previous`: negative while
 * workers drain it faster than it fills.
 */
function rate(earlier: Snapshot, previous: Snapshot, now: Snapshot, queue: QueueStats): string[] {
  const before = previous.stats.get(queue.queue) ?? { queue: queue.queue, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 };
  const perSecond = (delta: number, since: Snapshot) => delta / Math.max(0.001, (now.at - since.at) / 1000);
  const signed = (delta: number) => `${delta > 0 ? '+' : ''}${Math.round(perSecond(delta, previous))}`;
  const waiting = (s: QueueStats) => s.ready + s.delayed + s.reserved;
  const done = (now.completed.get(queue.queue) ?? 0) - (earlier.completed.get(queue.queue) ?? 0);
  return [String(Math.round(perSecond(done, earlier))), signed(waiting(queue) - waiting(before)), signed(queue.failed - before.failed)];
}
