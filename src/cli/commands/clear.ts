import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { confirmed, say } from '../output.ts';

export function registerClear(program: Command, app: CliApp): void {
  const command = withConnection(program.command('clear <queue>').description('delete every job waiting on a queue (failed records stay)'))
    .option('-f, --force', 'do not ask first (needed where there is no terminal to ask)');
  examples(command, ['queue clear emails', 'queue clear emails --force']);
  command.action(async (queue: string, flags: { connection?: string; force?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    if (!(await confirmed(`deletes every job waiting on queue '${queue}' (connection ${driver.connection})`, 'queue clear', flags.force))) return;
    say(`deleted ${await driver.clear(queue)} job(s) from ${queue}`);
  });
}
