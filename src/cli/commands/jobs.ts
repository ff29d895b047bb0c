import type { Command } from 'commander';
import { BUILT_IN_DEFAULTS, declaredSettings } from '../../jobs/settings.ts';
import type { CliApp } from '../app.ts';
import { examples } from '../help.ts';
import { printJson, printTable, say } from '../output.ts';

export function registerJobs(program: Command, app: CliApp): void {
  const command = program.command('jobs').description('the job classes found in app/jobs and their settings').option('--json', 'print JSON');
  examples(command, ['queue jobs']);
  command.action(async (flags: { json?: boolean }) => {
    const registry = await (await app.queue()).registry();
    for (const warning of registry.warnings) process.stderr.write(`warning: ${warning}\n`);
    for (const helper of registry.helpers) process.stderr.write(`${helper}\n`);
    const rows = registry.all().map(({ name, jobClass, file }) => {
      const { queue, maxTries, timeout, backoff } = declaredSettings(jobClass, name);
      return { name, file, queue, maxTries, timeout, backoff, encrypted: jobClass.encrypted === true };
    });
    if (flags.json) return printJson(rows);
    if (rows.length === 0) return say('no jobs found; create one with `queue make:job SendWelcomeEmail`');
    const worker = (value: unknown, fallback: unknown) => (value === null ? `${fallback} (worker)` : String(value));
    await printTable(['job', 'file', 'queue', 'max tries', 'timeout (s)', 'backoff (s)', 'encrypted'], rows.map((r) => [
      r.name, r.file, r.queue, worker(r.maxTries, BUILT_IN_DEFAULTS.maxTries), worker(r.timeout, BUILT_IN_DEFAULTS.timeout), worker(r.backoff === null ? null : r.backoff.join(','), 0), r.encrypted ? 'yes' : 'no',
    ]));
  });
}
