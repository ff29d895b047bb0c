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

/** A table; on a terminal its longest cells are cut (with an ellipsis) so that it fits the width. */
export async function printTable(head: string[], rows: (string | number)[][]): Promise<void> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head, style: { head: process.stdout.isTTY ? ['cyan'] : [], border: process.stdout.isTTY ? ['grey'] : [] } });
  const cells = rows.map((row) => row.map(String));
  const width = process.stdout.isTTY ? process.stdout.columns || 0 : 0;
  table.push(...(width > 0 ? fitToWidth(head, cells, width) : cells));
  process.stdout.write(`${table.toString()}\n`);
}

/** The narrowest a column is cut to: enough to tell ids and names apart. */
const MIN_COLUMN = 10;

/**
 * Narrows the table (a border and a space either side of each cell: 3 characters per column, plus
 * 1) until it fits `width`: first its last column, the free text (an error, a message), then, on a
 * terminal too narrow for that, the widest of the others. Cut cells end with an ellipsis.
 */
export function fitToWidth(head: string[], rows: string[][], width: number): string[][] {
  const widths = head.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const floor = (i: number) => Math.max(MIN_COLUMN, head[i]!.length);
  let over = widths.reduce((sum, w) => sum + w, 0) + 3 * head.length + 1 - width;
  const last = head.length - 1;
  const cutLast = Math.min(over, Math.max(0, widths[last]! - floor(last)));
  widths[last]! -= cutLast;
  over -= cutLast;
  // An id is what the next command needs (`queue retry <id>`): it is cut last of all.
  const cuttable = (i: number) => widths[i]! > floor(i) && (head[i] !== 'id' || widths.every((w, j) => j === i || head[j] === 'id' || w <= floor(j)));
  while (over > 0) {
    const candidates = widths.map((w, i) => (cuttable(i) ? w : -1));
    const widest = candidates.indexOf(Math.max(...candidates));
    if (candidates[widest]! < 0) break;
    widths[widest]! -= 1;
    over -= 1;
  }
  return rows.map((row) => row.map((cell, i) => (cell.length > widths[i]! ? `${cell.slice(0, widths[i]! - 1)}…` : cell)));
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A remark beside a command's output, for the person (stderr): a script reading stdout sees only the output. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
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
