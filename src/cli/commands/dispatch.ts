import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import type { CliApp } from '../app.ts';
import { examples, withConnection } from '../help.ts';
import { say } from '../output.ts';
import { seconds } from '../parse.ts';

export function registerDispatch(program: Command, app: CliApp): void {
  const command = withConnection(program.command('dispatch <job>').description('dispatch a job from the shell; prints its id'))
    .option('-d, --data <json>', 'the job\'s fields as a JSON object', '{}')
    .option('-q, --queue <name>', 'the queue (default: the job\'s own)')
    .option('--delay <seconds>', 'make the job available after this many seconds', seconds);
  examples(command, ['queue dispatch SendWelcomeEmail --data \'{"userId": 42, "email": "ada@example.com"}\'', 'queue dispatch GenerateReport --queue reports --delay 60']);

  command.action(async (name: string, flags: { data: string; queue?: string; delay?: number; connection?: string }) => {
    let data: unknown;
    try {
      data = JSON.parse(flags.data);
    } catch (error) {
      throw new QueueError('INVALID_ARGUMENT', `--data is not valid JSON (${(error as Error).message}); pass an object like '{"userId": 1}'`);
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
    const [id] = await manager.push([job], { queue: flags.queue, delay: flags.delay, connection: flags.connection });
    say(id!);
  });
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
