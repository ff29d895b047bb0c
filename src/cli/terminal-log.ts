/**
 * The worker's log on a terminal: one aligned line per job outcome, as people watch `queue work`
 * live (Laravel's queue:work), instead of a block of fields per record.
 *
 *   14:02:07  SendWelcomeEmail  9c41d2e7  emails  ······························  3ms DONE
 *   14:02:08  ChargeCard  51b0a3f4  default  card declined  ·················  12ms RETRY in 10s
 *
 * It formats the very records the JSON logger writes (pino's JSON lines), so a terminal and a log
 * collector see the same events. Start lines and every record's fields appear with --verbose; a
 * job's own log lines and every warning or error always do, one line each.
 */

interface LogRecord {
  level: number;
  time: number;
  msg?: string;
  jobId?: string;
  job?: string;
  queue?: string;
  ms?: number;
  outcome?: string;
  retryIn?: number;
  err?: unknown;
  [field: string]: unknown;
}

export interface TerminalLogOptions {
  /** Start lines and each record's fields too. */
  verbose: boolean;
  /** ANSI colours (a terminal without NO_COLOR). */
  color: boolean;
  /** The terminal's width now (it may be resized while the worker runs). */
  columns: () => number;
}

type Paint = (text: string) => string;

const ansi = (code: number): Paint => (text) => `\u001b[${code}m${text}\u001b[0m`;
const STYLES = { green: ansi(32), red: ansi(31), yellow: ansi(33), dim: ansi(2), bold: ansi(1) };
const PLAIN: typeof STYLES = { green: String, red: String, yellow: String, dim: String, bold: String };

/** Fields every record has, or that the line itself shows. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'worker', 'jobId', 'job', 'queue', 'attempt', 'ms', 'outcome', 'retryIn', 'err']);
const TIMED_OUT = /^job timed out after /;
const MIN_DOTS = 3;

/** The line a terminal shows for one record, or null for a record shown only with --verbose. */
export function terminalLine(record: LogRecord, options: TerminalLogOptions): string | null {
  const paint = options.color ? STYLES : PLAIN;
  const time = clock(record.time);
  const fields = options.verbose ? extraFields(record) : '';
  const withFields = (line: string) => (fields ? `${line}  ${paint.dim(fields)}` : line);
  if (record.jobId === undefined) return withFields(`${paint.dim(time)}  ${levelTag(record.level, paint)}${record.msg ?? ''}`);
  const who = `${paint.dim(time)}  ${paint.bold(record.job ?? 'unknown job')}  ${paint.dim(shortId(record.jobId))}  ${record.queue ?? ''}`;
  const starting = record.msg === 'started' && record.outcome === undefined;
  if (starting && !options.verbose) return null;
  const status = starting ? paint.dim('RUNNING') : outcomeStatus(record, paint);
  if (status === null) return withFields(`${who}  ${levelTag(record.level, paint)}${record.msg ?? ''}`);
  const right = `${record.ms === undefined ? '' : `${duration(record.ms)} `}${status}`;
  const note = typeof record.err === 'string' ? record.err : '';
  return withFields(aligned(who, note, right, options.columns(), paint));
}

/** A pino destination that writes each record as its terminal line. */
export function terminalDestination(options: TerminalLogOptions, out: (text: string) => void = (text) => process.stdout.write(text)): { write(chunk: string): void } {
  return {
    write(chunk: string) {
      for (const json of chunk.split('\n')) {
        if (json === '') continue;
        let line: string | null;
        try {
          line = terminalLine(JSON.parse(json) as LogRecord, options);
        } catch {
          line = json;
        }
        if (line !== null) out(`${line}\n`);
      }
    },
  };
}

function outcomeStatus(record: LogRecord, paint: typeof STYLES): string | null {
  switch (record.outcome) {
    case 'done':
      return paint.green('DONE');
    case 'released':
      return paint.yellow(`RETRY in ${record.retryIn ?? 0}s`);
    case 'failed':
      return paint.red(typeof record.err === 'string' && TIMED_OUT.test(record.err) ? 'TIMEOUT' : 'FAIL');
    case 'lost':
      return paint.yellow('LOST');
    case 'handed-back':
      return paint.yellow('HANDED BACK');
    case 'cancelled':
      return paint.yellow('CANCELLED');
    default:
      return null;
  }
}

/** `left  note ····· right`, the dots filling the terminal's width; the note is cut to fit. */
function aligned(left: string, note: string, right: string, columns: number, paint: typeof STYLES): string {
  const width = Math.max(60, columns);
  const fixed = visible(left) + visible(right) + 4 + MIN_DOTS;
  let shown = note.replace(/\s+/g, ' ').trim();
  const room = width - fixed - 2;
  if (shown.length > room) shown = room > 1 ? `${shown.slice(0, room - 1)}…` : '';
  const middle = shown ? `  ${paint.dim(shown)}` : '';
  const dots = Math.max(MIN_DOTS, width - visible(left) - visible(middle) - visible(right) - 4);
  return `${left}${middle}  ${paint.dim('·'.repeat(dots))}  ${right}`;
}

function levelTag(level: number, paint: typeof STYLES): string {
  if (level >= 50) return `${paint.red('ERROR')} `;
  if (level >= 40) return `${paint.yellow('WARN')} `;
  return '';
}

/** What the line does not show already, as `key=value`. */
function extraFields(record: LogRecord): string {
  const pairs = Object.entries(record)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (record.attempt !== undefined) pairs.unshift(`attempt=${String(record.attempt)}`);
  if (record.jobId !== undefined) pairs.unshift(`id=${record.jobId}`);
  if (record.err !== undefined && typeof record.err !== 'string') pairs.push(`err=${JSON.stringify(record.err)}`);
  return pairs.join(' ');
}

/** The random end of a version 7 UUID: its start is the time, alike for jobs dispatched together. */
function shortId(id: string): string {
  return id.replace(/-/g, '').slice(-8);
}

function clock(time: number): string {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** Characters a terminal shows (ANSI colour codes take no room). */
function visible(text: string): number {
  return text.replace(/\u001b\[\d+m/g, '').length;
}
