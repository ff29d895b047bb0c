/**
 * How commands talk to people and scripts: tables or JSON on stdout, spinners only on a terminal.
 * The table, spinner and prompt libraries are imported when first used: a worker never needs them,
 * and loaded they would cost it about 2 MB of RSS for as long as it runs.
 */
import type { Ora } from 'ora';
import { QueueError } from '../errors.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export async function printTable(head: string[], rows: (string | number)[][]): Promise<void> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head, style: { head: process.stdout.isTTY ? ['cyan'] : [], border: process.stdout.isTTY ? ['grey'] : [] } });
  table.push(...rows.map((row) => row.map(String)));
  process.stdout.write(`${table.toString()}\n`);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs `work` under a spinner on a terminal, silently in scripts. */
export async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  const spinner: Ora | undefined = process.stderr.isTTY ? (await import('ora')).default({ text, stream: process.stderr }).start() : undefined;
  try {
    const result = await work();
    spinner?.stop();
    return result;
  } catch (error) {
    spinner?.stop();
    throw error;
  }
}

/**
 * Whether a command that deletes or moves many jobs may go ahead: with --force at once; on a
 * terminal when the person answers yes. Without a terminal to ask (a script, a pipe, cron) and
 * without --force it refuses, in one line, before anything changes.
 */
export async function confirmed(what: string, command: string, force: boolean | undefined): Promise<boolean> {
  if (force) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new QueueError('INVALID_ARGUMENT', `${command} ${what}, and there is no terminal to ask: add --force to run it from a script; nothing was changed`);
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${command} ${what}. Go ahead? [y/N] `);
    if (/^y(es)?$/i.test(answer.trim())) return true;
    say('nothing was changed');
    return false;
  } finally {
    rl.close();
  }
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
