import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';

export function registerFailedForget(program: Command, app: CliApp): void {
  const command = withConnection(program.command('failed:forget <id>').description('delete one failed job record'));
  examples(command, ['queue failed:forget 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10']);
  command.action(async (id: string, flags: { connection?: string }) => {
    const driver = await (await app.queue()).driver(flags.connection);
    if (!(await driver.failed.forget(id))) throw new QueueError('FAILED_JOB_NOT_FOUND', `no failed job with id ${id} on connection '${driver.connection}' (see queue failed:list)`);
    say(`forgot failed job ${id}`);
  });
}
