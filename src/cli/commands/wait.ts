import type { Command } from 'commander';
import { waitForJob } from '../../queue/records.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { printJson } from '../output.ts';
import { positiveSeconds } from '../parse.ts';
import { jsonSafe } from '../../queue/values.ts';

export function registerWait(program: Command, app: CliApp): void {
  const command = withConnection(program.command('wait <id>').description("wait for a job to finish; print its result as JSON (exit 1 if it failed, was cancelled or expired, or the wait timed out)"))
    .option('--timeout <seconds>', 'give up after this many seconds', positiveSeconds);
  examples(command, ['queue wait 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10', 'queue wait 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10 --timeout 30']);
  command.action(async (id: string, flags: { connection?: string; timeout?: number }) => {
    const result = await waitForJob(await app.queue(), id, { timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000, connection: flags.connection });
    printJson(jsonSafe(result));
  });
}
