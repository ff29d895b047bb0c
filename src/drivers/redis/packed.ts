/**
 * How a payload is kept in a queue's `jobs` hash: without what Redis already knows. An envelope as
 * the dispatcher writes it repeats the id (the hash field and the ready list's element), the queue
 * (the key's hash tag), `"v":1`, the null settings and a `createdAt` equal to the time in a version 7
 * id, and a big hash pays for every byte of every value. Packed, the 190 characters of the
 * benchmark's envelope are 20 (docs/redis-memory.md has the figures).
 *
 * Stored forms, told apart by the first characters:
 * - `~<job>"<attempts>;<maxTries>;<timeout>;<backoff>;<createdAt>;<n>:<rest><data>`, a packed
 *   envelope. It stands for
 *   `{"v":1,"id":"<id>","job":"<job>","queue":"<queue>","data":<data>,"attempts":<attempts>,
 *   "maxTries":<maxTries>,"timeout":<timeout>,"backoff":<backoff>,"createdAt":<createdAt><rest>`,
 *   where <rest> is the next n characters (the optional fields and the closing brace), an empty
 *   setting stands for `null` and an empty <createdAt> for the time in the id.
 * - `~<job>".<data>`: the same with every default: attempts 0, no settings, createdAt the id's
 *   time and nothing after it (a job dispatched now with no settings: the usual case).
 * - `~<job>"<priority>.<data>`: the same with `,"priority":<priority>` after createdAt (a job of a
 *   priority, otherwise usual). In the long form it took twice as long to pack and twice the bytes,
 *   and a bulk of priority jobs ran at 0.8 of a plain bulk.
 * - `~~<payload>`: a payload that began with `~` itself.
 * - anything else: the payload as it was pushed (one that is not an envelope we wrote, or one
 *   stored before this form existed).
 *
 * Packing cuts the text at fixed places and checks each literal it leaves out, so unpacking gives
 * back exactly the bytes pushed, whatever they are: a payload it cannot cut is stored as it came.
 * The scripts never look inside a payload; only this client packs and unpacks.
 */
import { jobIdTime } from '../../jobs/pack.ts';

const HEAD = '{"v":1,"id":"';
const JOB = '","job":"';
const QUEUE = '","queue":"';
const DATA = '","data":';
const DEFAULTS = ',"attempts":0,"maxTries":null,"timeout":null,"backoff":null,"createdAt":';
const TAIL = /,"attempts":(\d+),"maxTries":(null|\d+),"timeout":(null|\d+(?:\.\d+)?),"backoff":(null|\[[\d.,]*\]),"createdAt":(\d+)/y;

/** The form of `payload` to store for job `id` of `queue`. */
export function packPayload(id: string, queue: string, payload: string): string {
  // Each run of literals is compared as one string: startsWith at an offset took several times longer.
  const jobStart = HEAD.length + id.length + JOB.length;
  if (payload.substring(0, jobStart) !== `${HEAD}${id}${JOB}`) return kept(payload);
  const jobEnd = payload.indexOf('"', jobStart);
  if (jobEnd < 0 || payload.charCodeAt(jobStart) === TILDE) return kept(payload);
  const dataStart = jobEnd + QUEUE.length + queue.length + DATA.length;
  if (payload.substring(jobEnd, dataStart) !== `${QUEUE}${queue}${DATA}`) return kept(payload);
  const job = payload.substring(jobStart, jobEnd);
  const time = String(jobIdTime(id));
  // The usual tail (every default, the id's time, the end) in one comparison; any other through TAIL.
  const usual = payload.length - DEFAULTS.length - time.length - 1;
  if (usual >= dataStart && payload.substring(usual) === `${DEFAULTS}${time}}`) return `~${job}".${payload.substring(dataStart, usual)}`;
  // The usual tail with a priority after it. Looked for in the last characters only: a priority
  // has at most 8 (LIMITS.priority), and a payload without one is not searched through.
  const mark = payload.indexOf(PRIORITY, payload.length - PRIORITY.length - 9);
  if (mark > dataStart && payload.charCodeAt(payload.length - 1) === CLOSE) {
    const priority = payload.substring(mark + PRIORITY.length, payload.length - 1);
    const dataEnd = mark - DEFAULTS.length - time.length;
    if (dataEnd >= dataStart && INTEGER.test(priority) && payload.substring(dataEnd, mark) === `${DEFAULTS}${time}`) return `~${job}"${priority}.${payload.substring(dataStart, dataEnd)}`;
  }
  const at = payload.lastIndexOf(',"attempts":');
  if (at < dataStart) return kept(payload);
  TAIL.lastIndex = at;
  const tail = TAIL.exec(payload);
  if (!tail) return kept(payload);
  const [, attempts, maxTries, timeout, backoff, createdAt] = tail;
  const rest = payload.slice(TAIL.lastIndex);
  const created = createdAt === time ? '' : createdAt;
  return `~${job}"${attempts};${orEmpty(maxTries!)};${orEmpty(timeout!)};${orEmpty(backoff!)};${created};${rest.length}:${rest}${payload.slice(dataStart, at)}`;
}

/** The payload that `stored` stands for, for job `id` of `queue`. */
export function unpackPayload(id: string, queue: string, stored: string): string {
  if (stored.charCodeAt(0) !== TILDE) return stored;
  if (stored.charCodeAt(1) === TILDE) return stored.slice(1);
  const jobEnd = stored.indexOf('"');
  if (jobEnd < 0) return stored;
  const after = stored.charCodeAt(jobEnd + 1);
  if (after === DOT) return expand(id, queue, stored.slice(1, jobEnd), stored.slice(jobEnd + 2), '0', '', '', '', '', '}');
  // A priority's digits then a dot; the long form's first field (attempts) ends at a semicolon instead.
  let digits = after === MINUS ? jobEnd + 2 : jobEnd + 1;
  while (isDigit(stored.charCodeAt(digits))) digits++;
  if (digits > jobEnd + 1 && isDigit(stored.charCodeAt(digits - 1)) && stored.charCodeAt(digits) === DOT) {
    return expand(id, queue, stored.slice(1, jobEnd), stored.slice(digits + 1), '0', '', '', '', '', `${PRIORITY}${stored.slice(jobEnd + 1, digits)}}`);
  }
  const fields: string[] = [];
  let from = jobEnd + 1;
  for (let i = 0; i < 5; i++) {
    const to = stored.indexOf(';', from);
    if (to < 0) return stored;
    fields.push(stored.slice(from, to));
    from = to + 1;
  }
  const colon = stored.indexOf(':', from);
  const restStart = colon + 1;
  const restEnd = restStart + Number(stored.slice(from, colon));
  // Not a form packPayload writes (a value set by hand): given as it is, not guessed at.
  if (colon < 0 || !(restEnd <= stored.length)) return stored;
  const [attempts, maxTries, timeout, backoff, createdAt] = fields as [string, string, string, string, string];
  return expand(id, queue, stored.slice(1, jobEnd), stored.slice(restEnd), attempts, maxTries, timeout, backoff, createdAt, stored.slice(restStart, restEnd));
}

/** The envelope's text from its parts; an empty setting is null, an empty createdAt the id's time. */
function expand(id: string, queue: string, job: string, data: string, attempts: string, maxTries: string, timeout: string, backoff: string, createdAt: string, rest: string): string {
  return `{"v":1,"id":"${id}","job":"${job}","queue":"${queue}","data":${data},"attempts":${attempts},"maxTries":${maxTries || 'null'},"timeout":${timeout || 'null'},"backoff":${backoff || 'null'},"createdAt":${createdAt || jobIdTime(id)}${rest}`;
}

const PRIORITY = ',"priority":';
const INTEGER = /^-?\d+$/;
const TILDE = 0x7e;
const DOT = 0x2e;
const MINUS = 0x2d;
const CLOSE = 0x7d;

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** A payload stored as it came, with a `~` in front when it starts with one. */
function kept(payload: string): string {
  return payload.charCodeAt(0) === TILDE ? `~${payload}` : payload;
}

function orEmpty(value: string): string {
  return value === 'null' ? '' : value;
}
