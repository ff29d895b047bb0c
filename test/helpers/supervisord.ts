/**
 * A private supervisord (nodaemon, its own temp dir, unix socket and log files) whose one program is
 * the SHIPPED supervisor/queue-worker.conf read from disk, pointed at a test queue: the same keys and
 * values except directory (the fixture project), command (this repo's bin/queue.js, run by its
 * shebang as the shipped command runs it, with the test queue and flags), numprocs, user (removed:
 * we run as root), stdout_logfile (in the temp dir) and an added environment= line with the test's
 * environment. Also the parsers and checks the process-file tests share: an INI reader for both
 * shipped files, and the timeouts jobs declare.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { env as projectEnv } from '../../src/env.ts';
import { BUILT_IN_DEFAULTS } from '../../src/jobs/settings.ts';
import type { FailedJob } from '../../src/contract/driver.ts';
import { ensureBuilt } from './build.ts';
import { fixtureProject, logLines, managerFor, repoRoot, type TestEnv } from './cli.ts';

export const SHIPPED_PROGRAM = path.join(repoRoot, 'supervisor/queue-worker.conf');
export const SHIPPED_UNIT = path.join(repoRoot, 'supervisor/queue-worker@.service');
const BIN = path.join(repoRoot, 'bin/queue.js');
/** Set in supervisord's environment, so every process it starts (and theirs) can be found and ended. */
const MARKER = 'QUEUE_TEST_SUPERVISORD';

// ---------------------------------------------------------------------------------------------
// The shipped files

/** An INI file as supervisord and systemd write them: `[section]`, `key=value`, `;`/`#` comments. */
export interface Ini {
  /** Section name -> its keys and values, in file order (systemd allows a key more than once). */
  sections: Map<string, [key: string, value: string][]>;
}

/** Parses strictly: a line that is none of blank, comment, `[section]` or `key=value` throws, naming it. */
export function parseIni(text: string, file: string): Ini {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      return;
    }
    const pair = /^([A-Za-z_][\w.]*)\s*=\s*(.*)$/.exec(line);
    if (!pair || !current) throw new Error(`${file}:${index + 1}: not a [section], comment or key=value line: ${raw}`);
    current.push([pair[1]!, pair[2]!]);
  });
  return { sections };
}

/** The one value of a key (it must be there exactly once). */
export function iniValue(ini: Ini, section: string, key: string): string {
  const values = (ini.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
  assert.equal(values.length, 1, `[${section}] should set ${key} once, sets it ${values.length} times`);
  return values[0]!;
}

/** The shipped supervisord program: its section name and parsed file. */
export function shippedProgram(): { section: string; program: string; ini: Ini } {
  const ini = parseIni(readFileSync(SHIPPED_PROGRAM, 'utf8'), SHIPPED_PROGRAM);
  const sections = [...ini.sections.keys()];
  assert.equal(sections.length, 1, `one [program:...] section in ${SHIPPED_PROGRAM}, found ${sections.join(', ')}`);
  const section = sections[0]!;
  assert.match(section, /^program:[\w-]+$/);
  return { section, program: section.slice('program:'.length), ini };
}

export function shippedUnit(): Ini {
  return parseIni(readFileSync(SHIPPED_UNIT, 'utf8'), SHIPPED_UNIT);
}

/**
 * What every job under `jobsDir` declares as `static timeout` (seconds), or null where it declares
 * none (the worker's --timeout, or the built-in default, applies).
 */
export function declaredTimeouts(jobsDir: string): { file: string; timeout: number | null }[] {
  const files = readdirSync(jobsDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.[cm]?[jt]s$/.test(file) && !file.split(path.sep).some((part) => part.startsWith('_')));
  return files.sort().map((file) => {
    const match = /static\s+(?:override\s+)?(?:readonly\s+)?timeout\b[^=;\n]*=\s*([\d_.]+)/.exec(readFileSync(path.join(jobsDir, file), 'utf8'));
    return { file, timeout: match ? Number(match[1]!.replaceAll('_', '')) : null };
  });
}

/**
 * The longest time a job may run under the shipped worker command: the largest `static timeout` in
 * the shipped app/jobs and the fixture project's, or the worker's default (its --timeout, else the
 * built-in one) when some job declares none.
 */
export function longestJobTimeout(command: string): { seconds: number; by: string } {
  const flag = /--timeout[= ](\S+)/.exec(command);
  const fallback = flag ? Number(flag[1]) : BUILT_IN_DEFAULTS.timeout;
  let longest = { seconds: 0, by: '' };
  for (const root of [repoRoot, fixtureProject]) {
    for (const { file, timeout } of declaredTimeouts(path.join(root, 'app/jobs'))) {
      const seconds = timeout ?? fallback;
      const by = `${path.relative(repoRoot, path.join(root, 'app/jobs', file))} (${timeout === null ? 'declares none: the worker default' : 'static timeout'})`;
      if (seconds > longest.seconds) longest = { seconds, by };
    }
  }
  return longest;
}

// ---------------------------------------------------------------------------------------------
// A private supervisord

export interface SupervisorOptions {
  /** The test's environment (testEnv()): it becomes the program's environment= line. */
  t: TestEnv;
  queue: string;
  numprocs?: number;
  /** More `queue work` flags, before the shipped --json. */
  flags?: string[];
  /** Test-only values for other keys (a key the shipped file lacks is added). */
  override?: Record<string, string>;
}

export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export interface Life {
  /** Process name, e.g. queue-worker_00. */
  name: string;
  pid: number;
  /** It stayed up past startsecs (supervisord logged `entered RUNNING state`). */
  running: boolean;
  /** How it ended, as supervisord logged it: `exited: … (exit status 0; expected)`, `stopped: … (terminated by SIGKILL)`. */
  end?: { how: 'exited' | 'stopped'; code: number | null; signal: string | null; expected: boolean | null };
}

export interface ProcessStatus {
  name: string;
  state: string;
  pid: number | null;
}

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Supervisor {
  dir: string;
  /** The program name (from the shipped section), e.g. queue-worker. */
  program: string;
  numprocs: number;
  /** The generated supervisord.conf. */
  conf: string;
  /** The shipped program's stopwaitsecs, in seconds. */
  stopwaitsecs: number;
  /** supervisorctl with this instance's -c; never throws on a non-zero exit. */
  ctl(...args: string[]): Promise<CtlResult>;
  status(): Promise<ProcessStatus[]>;
  /** Pids of the program's processes that are up now (from `supervisorctl status`). */
  pids(): Promise<number[]>;
  /** Resolves once every one of numprocs processes is RUNNING; returns their pids. */
  allRunning(ms?: number): Promise<number[]>;
  /** Polls `condition` until it returns something truthy, and returns that; gives up after `ms`. */
  waitFor<T>(what: string, condition: () => T | Promise<T>, ms?: number): Promise<Truthy<T>>;
  /** Every process supervisord started, in order, and how each ended (from its activity log). */
  lives(): Life[];
  /**
   * Whether `pid` is, right now, a `queue work` process of this instance (pids are reused: a pid
   * read from a log may already belong to another process).
   */
  isWorker(pid: number): boolean;
  /** The workers' log files (stdout_logfile and its rotated backups), as paths. */
  logFiles(): string[];
  /** The workers' stdout (all their log files), as parsed JSON lines. */
  workerLog(): Record<string, unknown>[];
  /**
   * supervisorctl shutdown, then kill what is left; removes the temp dir, keeping the logs in memory
   * for lives() and workerLog(). Safe to call twice.
   */
  shutdown(): Promise<void>;
}

/** Why the supervisord tests cannot run here (supervisord missing), or undefined; throws under CI. */
export function supervisordSkip(): string | undefined {
  const found = spawnSync('supervisord', ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return undefined;
  const reason = `supervisord is not installed (${found.error?.message ?? found.stderr.trim()})`;
  if (projectEnv.isCI()) throw new Error(`${reason}; it is required under CI`);
  console.log(`# skipping: ${reason}`);
  return reason;
}

/** Quotes one word for supervisord's command= (shlex) and escapes `%` (its expansions). */
function word(value: string): string {
  const escaped = value.replaceAll('%', '%%');
  return /^[\w@+=:,./-]+$/.test(escaped) ? escaped : `'${escaped.replaceAll("'", `'"'"'`)}'`;
}

/** `environment=K="v",…`: every value double-quoted, `\` and `"` escaped, `%` doubled. */
function environmentLine(values: Record<string, string>): string {
  const pairs = Object.entries(values).map(([key, value]) => {
    assert.match(key, /^[A-Za-z_]\w*$/);
    assert.ok(!value.includes('\n'), `${key}: no newlines in supervisord environment values`);
    return `${key}="${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%')}"`;
  });
  return `environment=${pairs.join(',')}`;
}

/**
 * The shipped command with this repo's bin/queue.js in place of the shipped one, run directly (its
 * shebang starts node with its flags, as in production), the test queue and extra flags (before
 * --json).
 */
function workerCommand(shipped: string, queue: string, flags: string[]): string {
  const words = shipped.split(/\s+/);
  assert.ok(path.isAbsolute(words[0]!) && words[0]!.endsWith('/bin/queue.js') && words[1] === 'work', `the shipped command runs bin/queue.js work itself: ${shipped}`);
  const rest = words.slice(2);
  const queueAt = rest.indexOf('--queue');
  assert.ok(queueAt >= 0 && rest.at(-1) === '--json', `the shipped command names a --queue and ends with --json: ${shipped}`);
  rest.splice(queueAt, 2, '--queue', word(queue));
  // The shipped words stay as they are (a `%(process_name)s` is supervisord's to expand).
  return [word(BIN), 'work', ...rest.slice(0, -1), ...flags.map(word), '--json'].join(' ');
}

/** The supervisord.conf of a private instance in `dir`, running the shipped program. */
function supervisordConf(dir: string, options: SupervisorOptions): { text: string; program: string; numprocs: number; stopwaitsecs: number } {
  const { section, program, ini } = shippedProgram();
  const get = (key: string) => iniValue(ini, section, key);
  const numprocs = options.numprocs ?? Number(get('numprocs'));
  const replaced: Record<string, string> = {
    directory: fixtureProject,
    command: workerCommand(get('command'), options.queue, options.flags ?? []),
    numprocs: String(numprocs),
    stdout_logfile: path.join(dir, path.basename(get('stdout_logfile'))),
  };
  for (const key of Object.keys(replaced)) get(key);
  Object.assign(replaced, options.override);
  const shipped = ini.sections.get(section)!;
  const added = Object.keys(replaced).filter((key) => !shipped.some(([k]) => k === key));
  const lines = [...shipped.filter(([key]) => key !== 'user'), ...added.map((key) => [key, ''])].map(([key, value]) => `${key}=${replaced[key!] ?? value}`);
  const text = [
    '[unix_http_server]',
    `file=${path.join(dir, 'supervisor.sock')}`,
    'chmod=0700',
    '',
    '[supervisord]',
    'nodaemon=true',
    'silent=true',
    `logfile=${path.join(dir, 'supervisord.log')}`,
    'logfile_maxbytes=0',
    `pidfile=${path.join(dir, 'supervisord.pid')}`,
    `childlogdir=${dir}`,
    'loglevel=info',
    '',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '',
    '[supervisorctl]',
    `serverurl=unix://${path.join(dir, 'supervisor.sock')}`,
    '',
    `[${section}]`,
    ...lines,
    environmentLine(options.t.env),
    '',
  ].join('\n');
  return { text, program, numprocs, stopwaitsecs: Number(get('stopwaitsecs')) };
}

/** Starts a private supervisord running the shipped program; resolves once supervisorctl answers. */
export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  ensureBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-sv-'));
  const { text, program, numprocs, stopwaitsecs } = supervisordConf(dir, options);
  const conf = path.join(dir, 'supervisord.conf');
  writeFileSync(conf, text);
  let output = '';
  const daemon: ChildProcess = spawn('supervisord', ['-n', '-c', conf], { env: { ...process.env, [MARKER]: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout!.on('data', (chunk) => { output += chunk; });
  daemon.stderr!.on('data', (chunk) => { output += chunk; });
  let alive = true;
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => { alive = false; resolve(); }));
  // If this test process ends without shutdown() (a test cancelled at its timeout), supervisord
  // still stops its workers: SIGTERM makes it shut down as `supervisorctl shutdown` would.
  const onExit = () => { if (alive) daemon.kill('SIGTERM'); };
  process.once('exit', onExit);
  let finished = false;

  const ctl = (...args: string[]) => new Promise<CtlResult>((resolve) => {
    execFile('supervisorctl', ['-c', conf, ...args], { encoding: 'utf8', timeout: (stopwaitsecs + 10) * 1000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

  /** The logs as they were at shutdown, once the temp dir is gone. */
  let kept: { activity: string; workers: string[] } | undefined;
  const activityLog = () => kept?.activity ?? readOr(path.join(dir, 'supervisord.log'));
  const diagnostics = async () => `status:\n${(await ctl('status')).stdout}supervisord log (tail):\n${activityLog().split('\n').slice(-25).join('\n')}\n${output}`;

  const waitFor = async <T,>(what: string, condition: () => T | Promise<T>, ms = 30_000): Promise<Truthy<T>> => {
    const until = Date.now() + ms;
    for (;;) {
      const value = await condition();
      if (value) return value as Truthy<T>;
      if (Date.now() > until) throw new Error(`gave up after ${ms} ms waiting for ${what}\n${await diagnostics()}`);
      if (!alive) throw new Error(`supervisord exited (${daemon.exitCode ?? daemon.signalCode}) while waiting for ${what}\n${output}`);
      await sleep(100);
    }
  };

  const status = async (): Promise<ProcessStatus[]> => {
    const result = await ctl('status', `${program}:*`);
    return result.stdout.split('\n').filter(Boolean).map((line) => {
      const [, name = '', state = ''] = /^(\S+)\s+(\S+)/.exec(line) ?? [];
      const pid = /\bpid (\d+)/.exec(line);
      return { name, state, pid: pid ? Number(pid[1]) : null };
    });
  };

  const supervisor: Supervisor = {
    dir,
    program,
    numprocs,
    conf,
    stopwaitsecs,
    ctl,
    status,
    waitFor,
    async pids() {
      return (await status()).flatMap((p) => (p.pid === null ? [] : [p.pid]));
    },
    allRunning: (ms = 30_000) => waitFor(`${numprocs} ${program} processes RUNNING`, async () => {
      const all = await status();
      return all.length === numprocs && all.every((p) => p.state === 'RUNNING') && all.map((p) => p.pid!);
    }, ms),
    lives: () => parseLives(activityLog()),
    isWorker: (pid) => isMarked(pid, dir) && isWorkerCommand(readOr(`/proc/${pid}/cmdline`).split('\0')),
    logFiles: () => kept ? [] : readdirSync(dir).filter((file) => file !== 'supervisord.log' && /\.log(\.\d+)?$/.test(file)).map((file) => path.join(dir, file)),
    workerLog: () => (kept?.workers ?? supervisor.logFiles().map(readOr)).flatMap(logLines),
    async shutdown() {
      if (finished) return;
      finished = true;
      process.off('exit', onExit);
      if (alive) {
        await ctl('shutdown');
        const timer = setTimeout(() => daemon.kill('SIGKILL'), (stopwaitsecs + 5) * 1000);
        await exited;
        clearTimeout(timer);
      }
      await endStragglers(dir);
      kept = { activity: activityLog(), workers: supervisor.logFiles().map(readOr) };
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor('supervisord to answer on its socket', async () => (await ctl('pid')).code === 0, 15_000);
  } catch (error) {
    await supervisor.shutdown();
    throw error;
  }
  return supervisor;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * supervisord's activity log, as one entry per process it started: `spawned: 'x' with pid N`,
 * `success: x entered RUNNING state`, then `exited: x (exit status 0; expected)` or `stopped: x
 * (terminated by SIGKILL)`. Exits name the process, not the pid: the latest spawn of that name.
 */
export function parseLives(log: string): Life[] {
  const lives: Life[] = [];
  const current = new Map<string, Life>();
  for (const line of log.split('\n')) {
    const spawned = /INFO spawned: '([^']+)' with pid (\d+)/.exec(line);
    if (spawned) {
      const life: Life = { name: spawned[1]!, pid: Number(spawned[2]), running: false };
      lives.push(life);
      current.set(life.name, life);
      continue;
    }
    const success = /INFO success: (\S+) entered RUNNING state/.exec(line);
    if (success && current.get(success[1]!)) current.get(success[1]!)!.running = true;
    const ended = /(?:INFO|WARN|CRIT) (exited|stopped): (\S+) \((?:exit status (\d+)|terminated by (\w+))(?:; (expected|not expected))?\)/.exec(line);
    const life = ended && current.get(ended[2]!);
    if (ended && life) {
      life.end = { how: ended[1] as 'exited' | 'stopped', code: ended[3] === undefined ? null : Number(ended[3]), signal: ended[4] ?? null, expected: ended[5] === undefined ? null : ended[5] === 'expected' };
    }
  }
  return lives;
}

/** A worker's /proc cmdline: `node [flags from the shebang] <bin/queue.js> work ...`. */
function isWorkerCommand(args: string[]): boolean {
  const at = args.indexOf(BIN);
  return at > 0 && args[at + 1] === 'work';
}

/** Whether a process carries this instance's marker (supervisord, its workers, their timeout recorders). */
function isMarked(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`${MARKER}=${dir}\0`);
  } catch {
    return false;
  }
}

/** Pids of the processes this instance's supervisord started, directly or not. */
function markedProcesses(dir: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => isMarked(pid, dir));
}

/** Waits (10 s at most) for this instance's processes to end (a timeout recorder may still run), then kills the rest. */
async function endStragglers(dir: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (markedProcesses(dir).length > 0 && Date.now() < until) await sleep(100);
  for (const pid of markedProcesses(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What the jobs recorded, and the supervised workers' storage

/** One run of a job: the attempt, the process, and how it ended (undefined: cut short). */
export interface Run {
  attempt: number;
  pid: number;
  ended?: 'end' | 'throw' | 'abort';
}

/**
 * Each job's runs, in order, from "start <id> <attempt> <pid>" lines (Tracked, Soak) and the lines
 * that end a run with the same fields ("end", and Soak's "throw" and "abort"). Other lines are skipped.
 */
export function runsOf(lines: string[]): Map<string, Run[]> {
  const runs = new Map<string, Run[]>();
  for (const line of lines) {
    const [event, id, attempt, pid] = line.split(' ');
    if (!id || pid === undefined) continue;
    if (event === 'start') runs.set(id, [...(runs.get(id) ?? []), { attempt: Number(attempt), pid: Number(pid) }]);
    else if (event === 'end' || event === 'throw' || event === 'abort') {
      const run = runs.get(id)?.find((r) => r.attempt === Number(attempt) && r.pid === Number(pid));
      if (run) run.ended = event;
    }
  }
  return runs;
}

/** Dispatches one fixture job per entry of `fields` onto `queue` (in bulks of 2,000); returns their ids. */
export async function dispatchTo(t: TestEnv, queue: string, jobFile: string, fields: Record<string, unknown>[], options: { priority?: number } = {}): Promise<string[]> {
  const manager = await managerFor(t);
  try {
    const { default: JobClass } = await import(path.join(fixtureProject, 'app/jobs', jobFile));
    const ids: string[] = [];
    for (let i = 0; i < fields.length; i += 2000) {
      ids.push(...(await manager.push(fields.slice(i, i + 2000).map((f) => Object.assign(new JobClass(), f)), { ...options, queue })).map((pushed) => pushed.id));
    }
    return ids;
  } finally {
    await manager.close();
  }
}

/** Jobs still waiting, delayed or reserved on `queue`, and its failed records. */
export async function queueState(t: TestEnv, queue: string): Promise<{ size: number; failed: FailedJob[] }> {
  const manager = await managerFor(t);
  try {
    const driver = await manager.driver();
    return { size: await driver.size(queue), failed: await driver.failed.list({ queue, limit: 1_000_000 }) };
  } finally {
    await manager.close();
  }
}
