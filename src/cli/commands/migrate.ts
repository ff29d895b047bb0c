import type { Command } from 'commander';
import { canMigrate } from '../../contract/driver.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say, withSpinner } from '../output.ts';

export function registerMigrate(program: Command, app: CliApp): void {
  const command = withConnection(program.command('migrate').description('create or update the queue tables (safe to run again)'));
  examples(command, ['queue migrate', 'queue migrate --connection database']);
  command.action(async (flags: { connection?: string }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    if (!canMigrate(driver)) {
      say(`connection '${driver.connection}' keeps no tables: nothing to migrate`);
      return;
    }
    const { applied } = await withSpinner('migrating', () => driver.migrate());
    say(applied.length ? `applied: ${applied.join(', ')}` : 'nothing to migrate: the tables are up to date');
  });
}
