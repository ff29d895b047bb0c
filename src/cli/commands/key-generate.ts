import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import { generateAppKey } from '../../jobs/seal.ts';
import type { CliApp } from '../app.ts';
import { examples } from '../help.ts';
import { say } from '../output.ts';

export function registerKeyGenerate(program: Command, app: CliApp): void {
  const command = program
    .command('key:generate')
    .description('write a new APP_KEY into .env (for encrypted jobs and signed payloads)')
    .option('--show', 'print a key instead of writing it')
    .option('--force', 'replace an APP_KEY that is already set');
  examples(command, ['queue key:generate', 'queue key:generate --show']);
  command.action(async (flags: { show?: boolean; force?: boolean }) => {
    const key = generateAppKey();
    if (flags.show) return say(key);
    const file = path.join(app.root, '.env');
    const text = existsSync(file) ? await readFile(file, 'utf8') : '';
    const line = /^APP_KEY=(.*)$/m.exec(text);
    if (line && line[1]!.trim() !== '' && !flags.force) {
      throw new QueueError('INVALID_ARGUMENT', 'APP_KEY is already set in .env; --force replaces it, and jobs encrypted or signed with the old key can then no longer run');
    }
    const next = line ? text.replace(/^APP_KEY=.*$/m, `APP_KEY=${key}`) : `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}APP_KEY=${key}\n`;
    await writeFile(file, next, { mode: 0o600 });
    say(`APP_KEY written to ${path.relative(process.cwd(), file) || '.env'}`);
  });
}
