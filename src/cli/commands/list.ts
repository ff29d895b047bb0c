import type { Command } from 'commander';
import type { JobState } from '../../contract/driver.ts';
import { openRecord } from '../../queue/records.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, printJson, printTable, say } from '../output.ts';
import { intUpTo, jobState } from '../parse.ts';
import { jobJson } from './show.ts';

export function registerList(program: Command, app: CliApp): void {
  const command = withConnection(program.command('list').description('jobs in one state, newest first (default: completed)'))
    .option('-s, --state <state>', 'ready, delayed, reserved, completed, failed, cancelled, expired or blocked', jobState, 'completed' as JobState)
    .option('-q, --queue <name>', 'only this queue')
    .option('--limit <n>', 'at most this many (1-1000)', intUpTo(1000), 50)
    .option('--cursor <cursor>', 'the next page: the cursor the last page printed')
    .option('--json', 'print JSON: { jobs, cursor }');
  examples(command, ['queue list', 'queue list --state failed --queue emails', 'queue list --state ready --limit 10 --json']);
  command.action(async (flags: { connection?: string; state: JobState; queue?: string; limit: number; cursor?: string; json?: boolean }) => {
    const manager = await app.queue();
    const driver = await manager.driver(flags.connection);
    const page = await driver.records.list({ state: flags.state, queue: flags.queue, limit: flags.limit, cursor: flags.cursor });
    const jobs = page.records.map((record) => openRecord(record, manager.payloads));
    if (flags.json) return printJson({ jobs: jobs.map(jobJson), ...(page.cursor ? { cursor: page.cursor } : {}) });
    const where = `${flags.queue === undefined ? '' : ` on queue ${flags.queue}`} of connection ${driver.connection}`;
    if (jobs.length === 0) return say(`no ${flags.state} jobs${where}${flags.cursor ? ' after that cursor' : ''}`);
    say(`${flags.state} jobs${where}, newest first:`);
    const when = (ms: number | null) => (ms === null ? '' : formatTime(ms));
    await printTable(['id', 'queue', 'job', 'attempts', timeColumn(flags.state)], jobs.map((job) => [
      job.id, job.queue, job.name ?? '(unreadable)', job.attempts, when(job.finishedAt ?? (flags.state === 'reserved' ? job.startedAt : job.availableAt)),
    ]));
    if (page.cursor) say(`more: queue list --state ${flags.state}${flags.queue === undefined ? '' : ` --queue ${flags.queue}`} --cursor ${page.cursor}`);
  });
}

function timeColumn(state: JobState): string {
  if (state === 'reserved') return 'started';
  if (state === 'ready' || state === 'delayed' || state === 'blocked') return 'available';
  return 'finished';
}
