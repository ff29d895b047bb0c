/**
 * Servers of a test's own, on free loopback ports, for fault tests that stop, restart or flood a
 * server: the shared Redis, MariaDB and PostgreSQL are never stopped. Each can be stopped and
 * started again on the same port and data; cleanup() kills it and removes its folder.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PrivateServer {
  port: number;
  /** Starts it (again) and resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILLs it (a crash, as far as its clients can tell). */
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  cleanup(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/** A server process that the test starts, kills and starts again; `ready` says when it serves. */
async function privateServer(name: string, command: (port: number, dir: string) => [string, string[]], setUp: (dir: string) => void = () => {}, ready: (port: number) => Promise<boolean> = canConnect): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), `queue-${name}-`));
  setUp(dir);
  let child: ChildProcess | undefined;
  let output = '';
  const server: PrivateServer = {
    port,
    async start() {
      const [binary, args] = command(port, dir);
      child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk) => (output += chunk));
      child.stderr!.on('data', (chunk) => (output += chunk));
      for (let i = 0; i < 150; i += 1) {
        if (await ready(port)) return;
        if (child.exitCode !== null) break;
        await sleep(100);
      }
      throw new Error(`${name} on port ${port} did not start; its output:\n${output}`);
    },
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async cleanup() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** redis-server, keeping nothing on disk; `options` are server flags (`['--requirepass', pw]`). */
export function privateRedis(options: string[] = []): Promise<PrivateServer> {
  return privateServer('redis', (port, dir) => ['redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...options]]);
}

/** mariadbd on a data folder of its own (root, no password, database `test`); `options` are server flags. */
export async function privateMariaDb(options: string[] = []): Promise<PrivateServer> {
  const server = await privateServer(
    'mariadb',
    (port, dir) => ['/usr/sbin/mariadbd', ['--no-defaults', `--datadir=${dir}/data`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${dir}/sock`, '--user=root', '--innodb-buffer-pool-size=32M', ...options]],
    (dir) => execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], { stdio: 'ignore' }),
    async (port) => {
      try {
        execFileSync('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-uroot', '-e', 'create database if not exists test'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
  );
  return server;
}
