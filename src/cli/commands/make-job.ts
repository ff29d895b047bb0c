import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples } from '../help.ts';
import { say } from '../output.ts';
import { stub } from '../stubs.ts';

const NAME = /^([A-Za-z][A-Za-z0-9_]*\/)*[A-Z][A-Za-z0-9_]*$/;

export function registerMakeJob(program: Command, app: CliApp): void {
  const command = program.command('make:job <name>').description('write app/jobs/<name>.ts from a template');
  examples(command, ['queue make:job SendWelcomeEmail', 'queue make:job billing/ChargeCard']);
  command.action(async (name: string) => {
    if (!NAME.test(name)) {
      throw new QueueError('INVALID_ARGUMENT', `'${name}' is not a job name; use PascalCase, optionally in folders: SendWelcomeEmail, billing/ChargeCard`);
    }
    const manager = await app.queue();
    const file = path.join(manager.root, manager.config.jobs, `${name}.ts`);
    if (existsSync(file)) throw new QueueError('INVALID_ARGUMENT', `${path.relative(manager.root, file)} already exists`);
    const className = name.split('/').pop()!;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, (await stub('job.stub')).replaceAll('{{name}}', className), { flag: 'wx' });
    say(`created ${path.relative(manager.root, file)}`);
  });
}
