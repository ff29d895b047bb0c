import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { Envelope } from '../../jobs/envelope.ts';
import { decryptData } from '../../jobs/seal.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, printJson, say } from '../output.ts';

export function registerFailedShow(program: Command, app: CliApp): void {
  const command = withConnection(program.command('failed:show <id>').description('one failed job: payload, attempts, the full error'))
    .option('--json', 'print JSON')
    .option('--decrypt', "show an encrypted job's fields in clear (needs APP_KEY)");
  examples(command, ['queue failed:show 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10', 'queue failed:show 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10 --decrypt']);
  command.action(async (id: string, flags: { connection?: string; json?: boolean; decrypt?: boolean }) => {
    const manager = await app.queue();
    const driver = await manager.driver(flags.connection);
    const failed = await driver.failed.find(id);
    if (!failed) throw new QueueError('FAILED_JOB_NOT_FOUND', `no failed job with id ${id} on connection '${driver.connection}' (see queue failed:list)`);
    let payload: unknown = failed.payload;
    try {
      payload = JSON.parse(failed.payload);
    } catch {
      // Unreadable payloads are shown as the raw text they were.
    }
    const attempts = payload && typeof payload === 'object' ? (payload as { attempts?: unknown }).attempts : undefined;
    // An encrypted job's fields stay ciphertext unless asked for, and then only with the key.
    if (flags.decrypt && payload && typeof payload === 'object' && (payload as Envelope).enc) {
      payload = { ...(payload as Envelope), enc: undefined, data: decryptData(payload as Envelope, manager.payloads.keys) };
    }
    if (flags.json) return printJson({ ...failed, failedAt: new Date(failed.failedAt).toISOString(), payload });
    say(`id:         ${failed.id}`);
    say(`connection: ${failed.connection}`);
    say(`queue:      ${failed.queue}`);
    say(`job:        ${failed.job ?? '(unreadable payload)'}`);
    say(`attempts:   ${attempts ?? 'unknown'}`);
    say(`failed at:  ${formatTime(failed.failedAt)}`);
    say(`payload:\n${typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2)}`);
    say(`error:\n${failed.error}`);
  });
}
