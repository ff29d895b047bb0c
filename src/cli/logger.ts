/** The worker's logger: readable lines on a terminal, JSON lines otherwise (or with --json). */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { env } from '../env.ts';

export function createLogger(options: { json?: boolean; name?: string } = {}): Logger {
  const format = options.json ? 'json' : env.logFormat() ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = { level: env.logLevel(), base: options.name ? { worker: options.name } : { pid: process.pid } };
  if (format === 'json') return pino(base, pino.destination({ fd: 1, sync: true }));
  return pino(base, pretty({ sync: true, colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination: 1 }));
}
