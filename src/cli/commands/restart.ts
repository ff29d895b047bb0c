import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';

export function registerRestart(program: Command, app: CliApp): void {
  const command = withConnection(program.command('restart').description('make every worker exit 0 after its current jobs (its supervisor starts a fresh one)'));
  examples(command, ['queue restart']);
  command.action(async (flags: { connection?: string }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    await driver.requestRestart();
    say(`restart requested: workers on ${driver.connection} exit after their current jobs`);
  });
}
