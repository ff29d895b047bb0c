import type { Command } from 'commander';
import type { Driver } from '../../contract/driver.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { confirmed, say, withSpinner } from '../output.ts';
import { positiveSeconds } from '../parse.ts';

const hours = (value: string) => positiveSeconds(value);

export function registerFailedFlush(program: Command, app: CliApp): void {
  const command = withConnection(program.command('failed:flush').description('delete every failed job record (or those older than --hours)'))
    .option('--hours <h>', 'only records older than this many hours', hours)
    .option('-f, --force', 'do not ask first (needed where there is no terminal to ask)');
  examples(command, ['queue failed:flush', 'queue failed:flush --hours 48 --force']);
  command.action(async (flags: { connection?: string; hours?: number; force?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    const which = flags.hours === undefined ? 'every failed job record' : `the failed job records older than ${flags.hours}h`;
    if (!(await confirmed(`deletes ${which} (connection ${driver.connection})`, 'queue failed:flush', flags.force))) return;
    await deleteFailed(driver, flags.hours);
  });
}

export function registerFailedPrune(program: Command, app: CliApp): void {
  const command = withConnection(program.command('failed:prune').description('delete failed job records older than --hours (default 24)'))
    .option('--hours <h>', 'age in hours', hours, 24);
  examples(command, ['queue failed:prune --hours 168']);
  command.action(async (flags: { connection?: string; hours: number }) => deleteFailed(await (await app.queue()).driver(flags.connection), flags.hours));
}

async function deleteFailed(driver: Driver, olderThanHours: number | undefined): Promise<void> {
  const olderThanMs = olderThanHours === undefined ? undefined : olderThanHours * 3_600_000;
  const deleted = await withSpinner('deleting failed jobs', () => driver.failed.flush({ olderThanMs }));
  say(`deleted ${deleted} failed job record(s)${olderThanHours === undefined ? '' : ` older than ${olderThanHours}h`}`);
}
