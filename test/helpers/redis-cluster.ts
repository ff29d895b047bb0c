/**
 * A throwaway 3-master Redis Cluster on loopback, for end-to-end tests: three `redis-server`
 * children (not daemonized), each in its own temp dir, joined by `redis-cli --cluster create`.
 * Every step is bounded in time; stop() always kills the processes and removes the dirs.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const PORTS = { from: 17100, to: 17999 };
/** A cluster node also listens on its port + 10000 (the cluster bus). */
const BUS_OFFSET = 10_000;
const READY_MS = 20_000;

export interface RedisCluster {
  /** host:port of every master. */
  nodes: string[];
  ports: number[];
  stop(): Promise<void>;
}

/** Why a cluster cannot be started here (a binary is missing), or undefined when it can. */
export function redisClusterUnavailable(): string | undefined {
  for (const binary of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000 });
    if (probe.error) return `${binary} is not on PATH (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}); install Redis 7 (apt-get install redis-server)`;
  }
  return undefined;
}

/** Runs redis-cli with a time limit; resolves to its stdout, rejects with its stderr. */
export function redisCli(args: string[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** `count` distinct ports whose cluster-bus port is free too. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < 200; tries++) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from + 1));
    if (ports.includes(port)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports (with free bus ports) in ${PORTS.from}-${PORTS.to}`);
  return ports;
}

/** Polls `check` every 100 ms until it resolves true; throws `describe()` after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms: ${describe()}`);
}

interface Node {
  port: number;
  dir: string;
  child: ChildProcess;
  output: string;
  exited: Promise<void>;
}

function startNode(port: number): Node {
  const dir = mkdtempSync(path.join(tmpdir(), `redis-cluster-${port}-`));
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const node: Node = { port, dir, child, output: '', exited: new Promise((resolve) => child.once('close', () => resolve())) };
  // An 'error' event (ENOENT) is reported by the PING wait below, with the output.
  child.on('error', (error) => { node.output += `spawn error: ${error.message}\n`; });
  child.stdout!.on('data', (chunk) => { node.output += chunk; });
  child.stderr!.on('data', (chunk) => { node.output += chunk; });
  return node;
}

async function stopNode(node: Node): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null && node.child.pid !== undefined) {
    node.child.kill('SIGTERM');
    const killed = await Promise.race([node.exited.then(() => true), sleep(2_000, false, { ref: false })]);
    if (!killed) {
      node.child.kill('SIGKILL');
      await Promise.race([node.exited, sleep(2_000, undefined, { ref: false })]);
    }
  }
  rmSync(node.dir, { recursive: true, force: true });
}

/** Starts three masters on free loopback ports and waits until every node reports cluster_state:ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const missing = redisClusterUnavailable();
  if (missing) throw new Error(`cannot start a Redis Cluster: ${missing}`);
  const ports = await freePorts(3);
  const nodes = ports.map(startNode);
  const stop = async () => {
    await Promise.all(nodes.map(stopNode));
  };
  try {
    for (const node of nodes) {
      await until(async () => (await redisCli(['-h', HOST, '-p', String(node.port), 'ping'], 1_000)).trim() === 'PONG', 10_000,
        () => `redis-server on port ${node.port} did not answer PING; its output:\n${node.output}`);
    }
    await redisCli(['--cluster', 'create', ...ports.map((port) => `${HOST}:${port}`), '--cluster-replicas', '0', '--cluster-yes'], READY_MS);
    for (const node of nodes) {
      let info = '';
      await until(async () => /cluster_state:ok/.test(info = await redisCli(['-h', HOST, '-p', String(node.port), 'cluster', 'info'], 1_000)), READY_MS,
        () => `node ${node.port} never reached cluster_state:ok; last CLUSTER INFO:\n${info}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => `${HOST}:${port}`), ports, stop };
}
