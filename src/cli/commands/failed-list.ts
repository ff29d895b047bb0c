import type { Command } from 'commander';
import { firstLine } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, printJson, printTable, say } from '../output.ts';
import { positiveInt } from '../parse.ts';

export function registerFailedList(program: Command, app: CliApp): void {
  const command = withConnection(program.command('failed:list').description('failed jobs, newest first'))
    .option('-q, --queue <name>', 'only this queue')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .option('--json', 'print JSON (with payloads and full errors)');
  examples(command, ['queue failed:list', 'queue failed:list --queue emails --limit 10', 'queue failed:list --json']);
  command.action(async (flags: { connection?: string; queue?: string; limit: number; json?: boolean }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    const failed = await driver.failed.list({ queue: flags.queue, limit: flags.limit });
    if (flags.json) return printJson(failed.map((f) => ({ ...f, failedAt: new Date(f.failedAt).toISOString() })));
    if (failed.length === 0) return say('no failed jobs');
    say(`failed jobs on connection ${driver.connection}, newest first:`);
    await printTable(['id', 'queue', 'job', 'failed at', 'error'], failed.map((f) => [
      f.id, f.queue, f.job ?? '(unreadable)', formatTime(f.failedAt), truncate(firstLine(f.error), 80),
    ]));
  });
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
