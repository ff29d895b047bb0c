import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { confirm, say } from '../output.ts';

export function registerClear(program: Command, app: CliApp): void {
  const command = withConnection(program.command('clear <queue>').description('delete every job waiting on a queue (failed records stay)'))
    .option('-f, --force', 'do not ask first');
  examples(command, ['queue clear emails', 'queue clear emails --force']);
  command.action(async (queue: string, flags: { connection?: string; force?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    if (!flags.force && !(await confirm(`Delete every job on queue '${queue}' (connection ${driver.connection})?`))) {
      say('nothing deleted');
      return;
    }
    say(`deleted ${await driver.clear(queue)} job(s) from ${queue}`);
  });
}
