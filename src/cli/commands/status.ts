import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { printJson, printTable, say } from '../output.ts';

export function registerStatus(program: Command, app: CliApp): void {
  const command = withConnection(program.command('status').description('jobs per queue: ready, delayed, reserved, failed')).option('--json', 'print JSON');
  examples(command, ['queue status', 'queue status --json']);
  command.action(async (flags: { connection?: string; json?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    const [stats, signals] = await Promise.all([driver.stats(), driver.signals()]);
    const paused = new Set(signals.paused);
    if (flags.json) {
      printJson({ connection: driver.connection, queues: stats.map((s) => ({ ...s, paused: paused.has(s.queue) })), paused: signals.paused, restartRequestedAt: signals.restartRequestedAt });
      return;
    }
    if (stats.length === 0) {
      say(`connection ${driver.connection}: no jobs`);
      return;
    }
    await printTable(['connection', 'queue', 'ready', 'delayed', 'reserved', 'failed'], stats.map((s) => [driver.connection, paused.has(s.queue) ? `${s.queue} (paused)` : s.queue, s.ready, s.delayed, s.reserved, s.failed]));
  });
}
