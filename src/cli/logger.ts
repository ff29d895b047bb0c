/**
 * The worker's logger: readable lines on a terminal, JSON lines otherwise (or with --json).
 * pino-pretty is imported only for readable lines: a supervised worker logs JSON and is spared it.
 */
import pino, { type Logger } from 'pino';
import { env } from '../env.ts';

export async function createLogger(options: { json?: boolean; name?: string } = {}): Promise<Logger> {
  const format = options.json ? 'json' : env.logFormat() ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = { level: env.logLevel(), base: options.name ? { worker: options.name } : { pid: process.pid } };
  if (format === 'json') return pino(base, pino.destination({ fd: 1, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino(base, pretty({ sync: true, colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination: 1 }));
}
