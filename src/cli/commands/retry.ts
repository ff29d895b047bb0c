import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { confirmed, say, withSpinner } from '../output.ts';

export function registerRetry(program: Command, app: CliApp): void {
  const command = withConnection(program.command('retry <ids...>').description('put failed jobs back on their queues with fresh tries (ids, or "all")'))
    .option('-q, --queue <name>', 'with "all": only this queue')
    .option('-f, --force', 'with "all": do not ask first (needed where there is no terminal to ask)');
  examples(command, ['queue retry 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10', 'queue retry all', 'queue retry all --queue emails --force']);
  command.action(async (ids: string[], flags: { connection?: string; queue?: string; force?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    const all = ids.length === 1 && ids[0] === 'all';
    const which = flags.queue === undefined ? 'every failed job' : `every failed job of queue '${flags.queue}'`;
    if (all && !(await confirmed(`puts ${which} back to run again (connection ${driver.connection})`, 'queue retry all', flags.force))) return;
    const moved = await withSpinner('retrying failed jobs', () => (all ? driver.failed.retryAll({ queue: flags.queue }) : driver.failed.retry(ids)));
    for (const id of moved) say(`retrying ${id}`);
    say(`${moved.length} failed job(s) put back on their queues`);
  });
}
