import type { Command } from 'commander';
import { backendKind } from '../../config/define.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { printJson, printTable, say } from '../output.ts';

export function registerStatus(program: Command, app: CliApp): void {
  const command = withConnection(program.command('status').description('jobs per queue: ready, delayed, reserved, failed')).option('--json', 'print JSON');
  examples(command, ['queue status', 'queue status --json']);
  command.action(async (flags: { connection?: string; json?: boolean }) => {
    const manager = await app.queue();
    const driver = await manager.driver(flags.connection);
    const backend = backendKind(manager.config.connections[driver.connection]!);
    const [stats, signals] = await Promise.all([driver.stats(), driver.signals()]);
    const paused = new Set(signals.paused);
    if (flags.json) {
      printJson({ connection: driver.connection, backend, queues: stats.map((s) => ({ ...s, paused: paused.has(s.queue) })), paused: signals.paused, restartRequestedAt: signals.restartRequestedAt });
      return;
    }
    const where = `${driver.connection} (${backend})`;
    if (stats.length === 0) {
      say(`connection ${where}: no jobs`);
      return;
    }
    await printTable(['connection', 'queue', 'ready', 'delayed', 'reserved', 'failed'], stats.map((s) => [where, paused.has(s.queue) ? `${s.queue} (paused)` : s.queue, s.ready, s.delayed, s.reserved, s.failed]));
  });
}
