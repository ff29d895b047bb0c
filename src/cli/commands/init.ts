import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples } from '../help.ts';
import { say } from '../output.ts';
import { stub } from '../stubs.ts';

/** What `queue init` writes: project path -> stub (this repository's own app and config, as shipped). */
export const INIT_FILES: Record<string, string> = {
  'app/jobs/SendWelcomeEmail.ts': 'example-job.stub',
  'config/queue.ts': 'config.stub',
  'config/schedule.ts': 'schedule.stub',
  '.env.example': 'env.example.stub',
};

export function registerInit(program: Command, app: CliApp): void {
  const command = program.command('init').description('set up a project: an example job, config/queue.ts, config/schedule.ts and .env.example (never overwrites)');
  examples(command, ['npx queue init']);
  command.action(async () => {
    const existing = Object.keys(INIT_FILES).filter((file) => existsSync(path.join(app.root, file)));
    if (existing.length > 0) {
      throw new QueueError('INVALID_ARGUMENT', `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${app.root}; nothing was written (move ${existing.length === 1 ? 'it' : 'them'} away to start afresh)`);
    }
    for (const [file, name] of Object.entries(INIT_FILES)) {
      const target = path.join(app.root, file);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, await stub(name), { flag: 'wx' });
      say(`created ${file}`);
    }
    say('');
    say('Next, dispatch the example job and run a worker that processes it (SQLite, no server needed):');
    say('  npx queue dispatch SendWelcomeEmail --data \'{"userId": 1, "email": "ada@example.com"}\'');
    say('  npx queue work --stop-when-empty');
  });
}
