/** Runs the real `queue` binary in the fixture project, as a user (or supervisor) would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixtureProject = path.join(repoRoot, 'test/fixtures/project');
const BIN = path.join(repoRoot, 'bin/queue.js');

export interface TestEnv {
  dir: string;
  env: Record<string, string>;
  recordFile: string;
}

/** A fresh database file and record file for one test. */
export function testEnv(extra: Record<string, string> = {}): TestEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-e2e-'));
  const recordFile = path.join(dir, 'record.log');
  return {
    dir,
    recordFile,
    env: { DB_DATABASE: path.join(dir, 'queue.sqlite'), RECORD_FILE: recordFile, QUEUE_LOG_FORMAT: 'json', ...extra },
  };
}

export function records(t: TestEnv): string[] {
  return existsSync(t.recordFile) ? readFileSync(t.recordFile, 'utf8').split('\n').filter(Boolean) : [];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves when stdout+stderr contain `text` (rejects after `ms`). */
  waitFor: (text: string | RegExp, ms?: number) => Promise<void>;
  done: Promise<RunResult>;
}

export function start(args: string[], t: TestEnv, options: { cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? fixtureProject,
    env: { ...process.env, ...t.env, CI: process.env.CI ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  const check = () => {
    const all = stdout + stderr;
    for (const waiter of [...waiters]) {
      if (waiter.test(all)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.on('data', (chunk) => { stdout += chunk; check(); });
  child.stderr!.on('data', (chunk) => { stderr += chunk; check(); });
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    output: () => stdout + stderr,
    done,
    waitFor(text, ms = 15_000) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(stdout + stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}; output so far:\n${stdout}${stderr}`)), ms);
        waiters.push({ test, resolve: () => { clearTimeout(timer); resolve(); } });
        done.then(() => {
          clearTimeout(timer);
          if (!test(stdout + stderr)) reject(new Error(`process ended before printing ${text}; output:\n${stdout}${stderr}`));
        });
      });
    },
  };
}

export function run(args: string[], t: TestEnv, options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const running = start(args, t, options);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return running.done.finally(() => clearTimeout(timer));
}

/** A QueueManager on the test's database, for dispatching from the test process itself. */
export async function managerFor(t: TestEnv): Promise<import('../../src/queue/manager.ts').QueueManager> {
  const { QueueManager } = await import('../../src/queue/manager.ts');
  const { defineConfig } = await import('../../src/config/define.ts');
  return new QueueManager(
    defineConfig({ default: 'database', connections: { database: { driver: 'database', client: 'sqlite', filename: t.env.DB_DATABASE! } }, leaseMargin: 1 }),
    fixtureProject,
  );
}

/** Dispatches `count` jobs of a fixture class in one bulk; returns their ids. */
export async function dispatchMany(t: TestEnv, jobFile: string, count: number, fields: Record<string, unknown> = {}): Promise<string[]> {
  const manager = await managerFor(t);
  try {
    const { default: JobClass } = await import(path.join(fixtureProject, 'app/jobs', jobFile));
    const jobs = Array.from({ length: count }, () => Object.assign(new JobClass(), fields));
    return await manager.push(jobs);
  } finally {
    await manager.close();
  }
}

/** Parses the JSON log lines a worker printed. */
export function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}
