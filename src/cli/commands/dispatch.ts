import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { note, say } from '../output.ts';
import { priority, seconds } from '../parse.ts';

export function registerDispatch(program: Command, app: CliApp): void {
  const command = withConnection(program.command('dispatch <job>').description('dispatch a job from the shell; prints its id'))
    .option('-d, --data <json>', 'the job\'s fields as a JSON object; @file reads it from a file, - from stdin', '{}')
    .option('-q, --queue <name>', 'the queue (default: the job\'s own)')
    .option('--delay <seconds>', 'make the job available after this many seconds', seconds)
    .option('--priority <n>', 'higher runs first (default: the job\'s own, or 0); may be negative', priority);
  examples(command, [
    'queue dispatch SendWelcomeEmail --data \'{"userId": 42, "email": "ada@example.com"}\'',
    'queue dispatch GenerateReport --queue reports --delay 60',
    'queue dispatch ChargeCard --data \'{"orderId": 7}\' --priority 10',
    'queue dispatch ImportRows --data @rows.json',
    'cat rows.json | queue dispatch ImportRows --data -',
  ]);

  command.action(async (name: string, flags: { data: string; queue?: string; delay?: number; priority?: number; connection?: string }) => {
    const [text, from] = await dataText(flags.data);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new QueueError('INVALID_ARGUMENT', `${from} is not valid JSON (${(error as Error).message}); pass an object like '{"userId": 1}'`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new QueueError('INVALID_ARGUMENT', '--data must be a JSON object of the job\'s fields');
    const manager = await app.queue();
    const { jobClass } = (await manager.registry()).require(name);
    const job = new jobClass();
    const fields = new Set(Object.keys(job));
    const unknown = Object.keys(data).filter((key) => !fields.has(key) || key.startsWith('_'));
    if (unknown.length > 0) {
      const known = [...fields].filter((key) => !key.startsWith('_'));
      throw new QueueError('INVALID_ARGUMENT', `${name} has no field ${unknown.map((k) => `'${k}'`).join(', ')}; its fields are: ${known.join(', ') || 'none'}`);
    }
    const fieldsOf = job as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(data)) fieldsOf[key] = fromShell(name, key, fieldsOf[key], value);
    const [pushed] = await manager.push([job], { queue: flags.queue, delay: flags.delay, priority: flags.priority, connection: flags.connection });
    // The id goes to stdout either way, so `id=$(queue dispatch ...)` names the job that will run.
    say(pushed!.id);
    if (pushed!.duplicate) note(`not stored: job ${pushed!.id} holds the unique key of this ${name}`);
    else if (pushed!.replaced) note(`replaced job ${pushed!.replaced}, which had not started`);
  });
}

/**
 * The text of --data, and how to name it in errors: inline, `@file` (an argument is limited by the
 * operating system; a file is not), or `-` for stdin.
 */
async function dataText(value: string): Promise<[string, string]> {
  if (value === '-') return [await readStream(process.stdin), '--data from stdin'];
  if (!value.startsWith('@')) return [value, '--data'];
  const file = value.slice(1);
  try {
    return [await readFile(file, 'utf8'), `--data file ${file}`];
  } catch (error) {
    throw new QueueError('INVALID_ARGUMENT', `cannot read --data file ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give the path of a JSON file after @`);
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** JSON has no Date or BigInt: a field that defaults to one takes a string or number for it. */
function fromShell(job: string, field: string, current: unknown, value: unknown): unknown {
  if (current instanceof Date && (typeof value === 'string' || typeof value === 'number')) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new QueueError('INVALID_ARGUMENT', `${job}.${field} is a Date; '${value}' is not a date`);
    return date;
  }
  if (typeof current === 'bigint' && (typeof value === 'string' || typeof value === 'number')) {
    if (!/^-?\d+$/.test(String(value))) throw new QueueError('INVALID_ARGUMENT', `${job}.${field} is a BigInt; '${value}' is not a whole number`);
    return BigInt(value);
  }
  return value;
}
