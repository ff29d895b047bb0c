import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import { cancelJob } from '../../queue/records.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';

export function registerCancel(program: Command, app: CliApp): void {
  const command = withConnection(program.command('cancel <ids...>').description('cancel jobs: a waiting one never starts; a running one is aborted by its worker'));
  examples(command, ['queue cancel 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10', 'queue cancel ID1 ID2 ID3']);
  command.action(async (ids: string[], flags: { connection?: string }) => {
    const manager = await app.queue();
    const refused: QueueError[] = [];
    for (const id of ids) {
      try {
        const outcome = await cancelJob(manager, id, flags.connection);
        say(outcome === 'cancelled' ? `cancelled ${id}` : `cancel requested for ${id}: it is running, and its worker stops it within about a second`);
      } catch (error) {
        if (!(error instanceof QueueError) || (error.code !== 'JOB_NOT_FOUND' && error.code !== 'JOB_FINISHED')) throw error;
        refused.push(error);
      }
    }
    // Each id is its own cancel: those that could be cancelled were; the others are named, in one line.
    if (refused.length > 0) throw new QueueError(refused[0]!.code, refused.map((error) => error.message).join('; '));
  });
}
