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
      const [stats, signals] = await Promise.all([driver.stats(), driver.signals()]);
      if (flags.json) {
        const paused = new Set(signals.paused);
        printJson({ connection: driver.connection, backend, queues: stats.map((s) => ({ ...s, paused: paused.has(s.queue) })), paused: signals.paused, restartRequestedAt: signals.restartRequestedAt });
        return;
      }
      await printStatus(where, stats, new Set(signals.paused));
      return;
    }
    let previous: { at: number; stats: Map<string, QueueStats> } | undefined;
    for (;;) {
      const [stats, signals] = await Promise.all([driver.stats(), driver.signals()]);
      const at = Date.now();
      if (process.stdout.isTTY) process.stdout.write('\u001b[H\u001b[2J');
      say(`${formatTime(at)}  every 1s, Ctrl-C to stop`);
      await printStatus(where, stats, new Set(signals.paused), previous && ((queue) => rate(previous!, at, queue)));
      previous = { at, stats: new Map(stats.map((s) => [s.queue, s])) };
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });
}

async function printStatus(where: string, stats: QueueStats[], paused: Set<string>, drain?: (queue: QueueStats) => [waiting: string, failed: string]): Promise<void> {
  if (stats.length === 0) {
    say(`connection ${where}: no jobs`);
    return;
  }
  const head = ['connection', 'queue', 'ready', 'delayed', 'reserved', 'failed', 'completed', 'cancelled'];
  const rows = stats.map((s): (string | number)[] => [where, paused.has(s.queue) ? `${s.queue} (paused)` : s.queue, s.ready, s.delayed, s.reserved, s.failed, s.completed, s.cancelled]);
  if (drain) {
    head.push('waiting Δ/s', 'failed Δ/s');
    stats.forEach((s, i) => rows[i]!.push(...drain(s)));
  }
  await printTable(head, rows);
}

/**
 * How fast a queue's waiting jobs (ready, delayed, reserved) and failed records changed per second
 * since the last refresh: negative while workers drain it faster than it fills.
 */
function rate(previous: { at: number; stats: Map<string, QueueStats> }, at: number, queue: QueueStats): [waiting: string, failed: string] {
  const before = previous.stats.get(queue.queue) ?? { queue: queue.queue, ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 0, cancelled: 0 };
  const seconds = Math.max(0.001, (at - previous.at) / 1000);
  const waiting = (s: QueueStats) => s.ready + s.delayed + s.reserved;
  const perSecond = (delta: number) => `${delta > 0 ? '+' : ''}${Math.round(delta / seconds)}`;
  return [perSecond(waiting(queue) - waiting(before)), perSecond(queue.failed - before.failed)];
}
