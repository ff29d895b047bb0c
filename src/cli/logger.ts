/**
 * The worker's logger: pino JSON lines, written as they are off a terminal (or with --json) and as
 * one aligned line per job on a terminal (terminal-log.ts). QUEUE_LOG_FORMAT=pretty|json overrides.
 */
import pino, { type Logger } from 'pino';
import { env } from '../env.ts';
import { terminalDestination } from './terminal-log.ts';

export async function createLogger(options: { json?: boolean; name?: string; verbose?: boolean } = {}): Promise<Logger> {
  const format = options.json ? 'json' : env.logFormat() ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = { level: env.logLevel(), base: options.name ? { pid: process.pid, worker: options.name } : { pid: process.pid } };
  if (format === 'json') return pino(base, pino.destination({ fd: 1, sync: true }));
  const color = process.stdout.isTTY === true && !env.noColor();
  return pino(base, terminalDestination({ verbose: options.verbose === true, color, columns: () => process.stdout.columns || 100 }));
}
