/**
 * How commands talk to people and scripts: tables or JSON on stdout, spinners only on a terminal.
 * The table, spinner and prompt libraries are imported when first used: a worker never needs them,
 * and loaded they would cost it about 2 MB of RSS for as long as it runs.
 */
import type { Ora } from 'ora';

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

/** Asks a yes/no question on a terminal; elsewhere answers yes (scripts pass --force anyway). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return true;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
