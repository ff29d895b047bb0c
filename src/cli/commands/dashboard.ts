/** `queue dashboard`: the web UI of one connection, served by this process until Ctrl-C. */
import { InvalidArgumentError, type Command } from 'commander';
import { env } from '../../env.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';

export function registerDashboard(program: Command, app: CliApp): void {
  const command = withConnection(program.command('dashboard').description('serve a web UI: queues live, jobs, failed jobs (retry, forget), workers, schedules; /metrics for Prometheus'))
    .option('-p, --port <port>', 'the port to listen on (0: any free one)', port, 8080)
    .option('--host <address>', 'the address to bind; beyond loopback QUEUE_DASHBOARD_TOKEN is required', '127.0.0.1')
    .option('--read-only', 'show everything, change nothing: no retry, forget, cancel or pause');
  examples(command, ['queue dashboard', 'queue dashboard --port 9000 --read-only', 'QUEUE_DASHBOARD_TOKEN=$(openssl rand -hex 32) queue dashboard --host 0.0.0.0']);
  command.action(async (flags: { connection?: string; port: number; host: string; readOnly?: boolean }) => {
    // The manager first: loading the project's config loads .env, where the token may be.
    const manager = await app.queue();
    const readOnly = flags.readOnly === true;
    // Loaded here, not with the program: a worker (every other command) never needs the server.
    const { startDashboard } = await import('../../dashboard/server.ts');
    const dashboard = await startDashboard({ manager, connection: flags.connection, host: flags.host, port: flags.port, readOnly, token: env.dashboardToken() });
    say(`dashboard of connection ${dashboard.connection} on ${dashboard.url}${readOnly ? ' (read-only)' : ''}; Ctrl-C to stop`);
    await stopSignal();
    await dashboard.close();
  });
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65_535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got '${value}'`);
  return n;
}

/** Resolves at SIGINT or SIGTERM. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
