import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import { findJob, type JobInfo } from '../../queue/records.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, printJson, say } from '../output.ts';
import { describeValue, jsonSafe } from '../../queue/values.ts';

export function registerShow(program: Command, app: CliApp): void {
  const command = withConnection(program.command('show <id>').description('one job in any state: its fields, result, error, progress, attempts and times'))
    .option('--json', 'print JSON');
  examples(command, ['queue show 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10', 'queue show 0b7e5c1e-7a43-4c4e-9d8f-3f1f1c3f2a10 --json']);
  command.action(async (id: string, flags: { connection?: string; json?: boolean }) => {
    const manager = await app.queue();
    const job = await findJob(manager, id, flags.connection);
    if (!job) throw new QueueError('JOB_NOT_FOUND', `no job with id ${id} on connection '${(await manager.driver(flags.connection)).connection}' (finished records are kept for a while: see keep in config/queue.ts)`);
    if (flags.json) return printJson(jobJson(job));
    const lines: [string, string | null][] = [
      ['id', job.id],
      ['job', job.name ?? '(unreadable payload)'],
      ['state', job.state],
      ['queue', `${job.queue} on ${job.connection}`],
      ['priority', job.priority === 0 ? null : String(job.priority)],
      ['attempts', `${job.attempts}${job.maxTries === null ? '' : ` of ${job.maxTries}`}`],
      ['created', time(job.createdAt)],
      [job.state === 'reserved' ? 'lease until' : 'available', time(job.availableAt)],
      ['started', time(job.startedAt)],
      ['finished', time(job.finishedAt)],
      ['progress', job.progress === undefined ? null : describeValue(job.progress)],
      ['data', job.data === undefined ? null : describeValue(job.data)],
      ['result', job.state === 'completed' ? describeValue(job.result) : null],
      ['unreadable', job.unreadable ?? null],
      ['error', job.error],
    ];
    for (const [label, value] of lines) if (value !== null) say(value.includes('\n') ? `${label}:\n${value}` : `${`${label}:`.padEnd(12)}${value}`);
  });
}

function time(ms: number | null): string | null {
  return ms === null ? null : formatTime(ms);
}

/** A record as JSON: times as ISO strings, values as they decode (Dates, BigInts and Maps in their JSON form). */
export function jobJson(job: JobInfo): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const { payload, unreadable, ...rest } = job;
  return {
    ...rest,
    data: jsonSafe(job.data),
    result: jsonSafe(job.result),
    progress: jsonSafe(job.progress),
    createdAt: iso(job.createdAt),
    availableAt: iso(job.availableAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    ...(unreadable === undefined ? {} : { unreadable, payload }),
  };
}
