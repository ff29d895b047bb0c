/** Child processes: `queue work` with a clean environment, and their id files. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BenchFailure, PROJECT_DIR, QUEUE_BIN, REPO_DIR } from './common.ts';

/** Variables the bench sets itself: inherited values would point a child at the wrong backend. */
const OWNED = /^(QUEUE_|DB_|DATABASE_URL$|REDIS_|BENCH_)/;

export function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!OWNED.test(name)) env[name] = value;
  return { ...env, QUEUE_ROOT: PROJECT_DIR, QUEUE_LOG_LEVEL: 'warn', QUEUE_LOG_FORMAT: 'json', ...vars };
}

export interface Child {
  process: ChildProcess;
  /** Resolves with the exit code once the process has exited; stdout and stderr so far. */
  exited: Promise<number>;
  /** The last lines of stdout and stderr, each cut to 400 characters. */
  output(): string;
  stdout(): string;
  stderr(): string;
}

/** `node <args>`. */
/** `bin/queue.js <args>` run by itself, as a process manager runs it: its shebang's node flags apply. */
export function startQueue(label: string, args: string[], env: NodeJS.ProcessEnv): Child {
  return spawnChild(label, QUEUE_BIN, args, env);
}

function spawnChild(label: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new BenchFailure(`${label}: cannot start: ${error.message}`)));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  // The last lines, each cut short: a logged error carries its whole stack.
  const output = () => `${stdout}${stderr}`.trim().split('\n').slice(-8).map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line)).join('\n');
  return { process: child, exited, output, stdout: () => stdout, stderr: () => stderr };
}

/**
 * What children logged (JSON lines at warn and above), counted by message: "3x cannot reserve jobs: …".
 * Stacks and ids are left out; anything that is not a JSON log line is counted as it is.
 */
export function summarizeLogs(children: Child[]): string[] {
  const counts = new Map<string, number>();
  for (const child of children) {
    for (const line of `${child.stdout()}${child.stderr()}`.split('\n').filter((l) => l.trim())) {
      let message = line.trim();
      try {
        message = String((JSON.parse(line) as { msg?: unknown }).msg ?? line);
      } catch {
        // not a log line: keep it whole
      }
      const key = message.slice(0, 160);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([message, n]) => `${n}x ${message}`);
}

/** Fails unless the child exited 0, quoting the end of its output. */
export async function expectExit0(label: string, child: Child): Promise<void> {
  const code = await child.exited;
  if (code !== 0) throw new BenchFailure(`${label}: pid ${child.process.pid} exited ${code}:\n${child.output()}`);
}

/** The ids the children recorded, one per line, across their files. */
export function readRecords(files: string[]): string[] {
  return files.flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []));
}
