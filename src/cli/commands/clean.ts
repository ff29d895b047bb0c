import type { Command } from 'commander';
import type { FinishedState } from '../../contract/driver.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say, withSpinner } from '../output.ts';
import { duration, finishedState } from '../parse.ts';

export function registerClean(program: Command, app: CliApp): void {
  const command = withConnection(program.command('clean').argument('<state>', 'completed, failed, cancelled or expired', finishedState).description('delete the records of finished jobs in one state: completed, failed, cancelled or expired'))
    .option('-q, --queue <name>', 'only this queue')
    .option('--older-than <duration>', 'only those that finished longer ago than this (90s, 30m, 1h, 2d, 1w)', duration);
  examples(command, ['queue clean completed', 'queue clean failed --queue emails --older-than 7d']);
  command.action(async (state: FinishedState, flags: { connection?: string; queue?: string; olderThan?: number }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    const cleaned = await withSpinner(`deleting ${state} records`, () => driver.records.clean({ state, queue: flags.queue, olderThanMs: flags.olderThan }));
    say(`deleted ${cleaned} ${state} job record(s)${flags.queue === undefined ? '' : ` of queue ${flags.queue}`} on connection ${driver.connection}`);
  });
}
