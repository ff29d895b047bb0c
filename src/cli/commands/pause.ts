import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';

export function registerPause(program: Command, app: CliApp): void {
  const command = withConnection(program.command('pause <queue>').description('workers stop taking jobs from a queue until it is resumed'));
  examples(command, ['queue pause emails']);
  command.action(async (queue: string, flags: { connection?: string }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    await driver.pause(queue);
    say(`paused ${queue}: workers skip it until \`queue resume ${queue}\``);
  });
}

export function registerResume(program: Command, app: CliApp): void {
  const command = withConnection(program.command('resume <queue>').description('workers take jobs from a paused queue again'));
  examples(command, ['queue resume emails']);
  command.action(async (queue: string, flags: { connection?: string }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    await driver.resume(queue);
    say(`resumed ${queue}`);
  });
}
