/** `queue schedule:list | run | pause | resume`: the recurring jobs of config/schedule.ts and those added at run time. */
import type { Command } from 'commander';
import { listSchedules, pauseSchedule, runSchedule } from '../../queue/schedules.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { formatTime, note, printJson, printTable, say } from '../output.ts';

export function registerScheduleList(program: Command, app: CliApp): void {
  const command = withConnection(program.command('schedule:list').description('the schedules: job, rule, next run, last run, paused'))
    .option('--json', 'print JSON');
  examples(command, ['queue schedule:list', 'queue schedule:list --json']);
  command.action(async (flags: { connection?: string; json?: boolean }) => {
    const manager = await app.queue();
    const { schedules, problems } = await listSchedules(manager, flags.connection);
    for (const problem of problems) note(`warning: ${problem}`);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    if (flags.json) return printJson(schedules.map((s) => ({ ...s, nextRunAt: iso(s.nextRunAt), lastAt: iso(s.lastAt), firedAt: iso(s.firedAt) })));
    if (schedules.length === 0) return say('no schedules: declare them in config/schedule.ts (see the README, "Schedules")');
    const when = (ms: number | null) => (ms === null ? '-' : formatTime(ms));
    await printTable(['name', 'job', 'rule', 'queue', 'next run', 'last run', 'paused'], schedules.map((s) => [
      s.source === 'runtime' ? `${s.name} (run time)` : s.name, s.job, s.rule, s.queue, s.paused ? '(paused)' : when(s.nextRunAt), when(s.firedAt), s.paused ? 'yes' : '',
    ]));
  });
}

export function registerScheduleRun(program: Command, app: CliApp): void {
  const command = withConnection(program.command('schedule:run <name>').description("dispatch one of a schedule's jobs now (its next run stays as it is); prints the job's id"));
  examples(command, ['queue schedule:run daily-digest']);
  command.action(async (name: string, flags: { connection?: string }) => {
    say(await runSchedule(await app.queue(), name, flags.connection));
  });
}

export function registerSchedulePause(program: Command, app: CliApp): void {
  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    const command = withConnection(program.command(`schedule:${verb} <name>`).description(paused ? 'workers stop firing a schedule until it is resumed' : 'workers fire a paused schedule again, from its next run'));
    examples(command, [`queue schedule:${verb} daily-digest`]);
    command.action(async (name: string, flags: { connection?: string }) => {
      await pauseSchedule(await app.queue(), name, paused, flags.connection);
      say(paused ? `paused schedule ${name}: workers skip its runs until \`queue schedule:resume ${name}\`` : `resumed schedule ${name}`);
    });
  }
}
