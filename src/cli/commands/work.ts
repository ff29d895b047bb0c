import type { Command } from 'commander';
import { BUILT_IN_DEFAULTS, LIMITS } from '../../jobs/settings.ts';
import { QueueWorker } from '../../queue/create-worker.ts';
import type { CliApp } from '../app.ts';
import { createLogger } from '../logger.ts';
import { intUpTo, positiveInt, positiveSeconds, queueList, seconds, secondsList, wholeUpTo } from '../parse.ts';
import { examples, withConnection } from '../help.ts';

/** Jobs one process may run at once: each slot holds a lease and a watchdog note (16 KB of shared memory). */
const MAX_CONCURRENCY = 1_000;

interface WorkFlags {
  connection?: string;
  queue: string[];
  concurrency: number;
  prefetch: number;
  maxJobs?: number;
  maxTime?: number;
  sleep: number;
  timeout?: number;
  maxTries?: number;
  backoff?: number[];
  memory?: number;
  once?: boolean;
  stopWhenEmpty?: boolean;
  rest: number;
  name?: string;
  json?: boolean;
  schedule: boolean;
}

export function registerWork(program: Command, app: CliApp): void {
  const command = withConnection(program.command('work').description('run a worker that processes jobs until told to stop'))
    .option('-q, --queue <names>', 'queues in priority order, comma-separated', queueList, ['default'])
    .option('--concurrency <n>', `jobs run at once in this process (at most ${MAX_CONCURRENCY})`, intUpTo(MAX_CONCURRENCY), 1)
    .option('--prefetch <n>', `start up to n short jobs ahead of running them, one round trip for many (default 0, at most ${LIMITS.prefetch}); a worker killed, not stopped, has used a try of each it had not run`, wholeUpTo(LIMITS.prefetch), 0)
    .option('--max-jobs <n>', 'exit 0 after this many jobs', positiveInt)
    .option('--max-time <seconds>', 'exit 0 after running this long', positiveSeconds)
    .option('--sleep <seconds>', 'the longest an idle worker waits before it looks again, and the pause after a backend error (doubling, 30 s at most)', seconds, 3)
    .option('--timeout <seconds>', `timeout for jobs that declare none (default ${BUILT_IN_DEFAULTS.timeout})`, positiveSeconds)
    .option('--max-tries <n>', `tries for jobs that declare none (default ${BUILT_IN_DEFAULTS.maxTries})`, positiveInt)
    .option('--backoff <seconds>', 'retry delays for jobs that declare none, e.g. 10 or 10,60,300 (default 0)', secondsList)
    .option('--memory <mb>', 'exit 12 when the process uses more memory than this', positiveInt)
    .option('--once', 'process one job, then exit 0')
    .option('--stop-when-empty', 'exit 0 when the queues are empty')
    .option('--rest <seconds>', 'rest this long after each job', seconds, 0)
    .option('--no-schedule', 'do not run the schedules of config/schedule.ts in this process (they run in every other worker)')
    .option('--name <name>', 'a name for this worker in its logs, `queue workers` and the dashboard (default host:pid)')
    .option('--json', 'log JSON lines even on a terminal')
    .addHelpText('after', '\nA setting the job class declares (static timeout, maxTries, backoff) wins over these flags;\nthe flags replace the defaults for jobs that declare nothing.\n\nExit codes: 0 planned stop (signal, --max-jobs, --max-time, --once, --stop-when-empty, queue restart),\n12 over --memory, 3 a job ignored its timeout, 130 stopped at once by a second Ctrl-C, 1 error.');
  examples(command, ['queue work', 'queue work --queue high,default --concurrency 10', 'queue work --stop-when-empty --max-tries 5 --backoff 10,60']);

  command.action(async (flags: WorkFlags) => {
    const logger = await createLogger({ json: flags.json, name: flags.name, verbose: command.parent?.opts().verbose === true });
    app.logger = logger;
    const worker = new QueueWorker({
      connection: flags.connection,
      queues: flags.queue,
      concurrency: flags.concurrency,
      prefetch: flags.prefetch,
      name: flags.name,
      logger,
      handleSignals: true,
      watchdog: true,
      sleep: flags.sleep,
      rest: flags.rest,
      maxJobs: flags.maxJobs,
      maxTime: flags.maxTime,
      memory: flags.memory,
      once: flags.once === true,
      stopWhenEmpty: flags.stopWhenEmpty === true,
      schedule: flags.schedule,
      timeout: flags.timeout,
      maxTries: flags.maxTries,
      backoff: flags.backoff,
    }, {
      manager: await app.queue(),
      // Stop signals that came while the process started are honoured now that the worker listens.
      afterSignalHandlers: () => {
        for (const signal of app.takeEarlySignals()) process.emit(signal, signal);
      },
    });
    process.exitCode = (await worker.run()).exitCode;
  });
}
