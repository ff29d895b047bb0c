/**
 * The `queue` binary as systems start it: executed itself (a process manager, npm's .bin link), by
 * BusyBox's sh and env (Alpine images, whose env has no -S), and as `node bin/queue.js`. Each way,
 * the process that runs the worker is node with the memory flags and malloc setting of bin/queue.js
 * (read from /proc), in the pid that was started, so stop signals reach the worker itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot, start, testEnv, type Running } from '../helpers/cli.ts';

const FLAGS = ['--max-semi-space-size=1', '--heap-growing-percent=50'];
const BIN = path.join(repoRoot, 'bin/queue.js');

function procOf(pid: number): { args: string[]; env: string[] } {
  const split = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'latin1').split('\0').filter(Boolean);
  return { args: split('cmdline'), env: split('environ') };
}

/** Starts an idle worker on SQLite; resolves once it listens, with what /proc says of its pid. */
async function idleWorker(options: { direct?: boolean; launcher?: string[] }, extra: Record<string, string> = {}): Promise<{ worker: Running; args: string[]; env: string[] }> {
  const t = testEnv(extra, 'sqlite');
  const worker = start(['work', '--sleep', '0.2'], t, options);
  await worker.waitFor('worker started');
  return { worker, ...procOf(worker.child.pid!) };
}

async function stops(worker: Running): Promise<void> {
  worker.child.kill('SIGTERM');
  const result = await worker.done;
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /worker stopped: SIGTERM/);
}

describe('the queue binary', () => {
  it('executed itself: node with the memory flags and two malloc arenas, in the started pid', async () => {
    const { worker, args, env } = await idleWorker({ direct: true });
    assert.match(path.basename(args[0]!), /^node/);
    assert.deepEqual(args.slice(1, 4), [...FLAGS, BIN]);
    assert.ok(env.includes('MALLOC_ARENA_MAX=2'));
    await stops(worker);
  });

  it("leaves a MALLOC_ARENA_MAX that the environment sets", async () => {
    const { worker, env } = await idleWorker({ direct: true }, { MALLOC_ARENA_MAX: '4' });
    assert.ok(env.includes('MALLOC_ARENA_MAX=4'));
    await stops(worker);
  });

  it("started by BusyBox's sh, as on Alpine: the same flags, and stop signals reach the worker", async () => {
    const { worker, args, env } = await idleWorker({ launcher: ['busybox', 'sh'] });
    assert.deepEqual(args.slice(1, 4), [...FLAGS, BIN]);
    assert.ok(env.includes('MALLOC_ARENA_MAX=2'));
    await stops(worker);
  });

  it("started through BusyBox's env (which has no -S): the same flags", async () => {
    const { worker, args } = await idleWorker({ launcher: ['busybox', 'env', 'QUEUE_LOG_LEVEL=info'] });
    assert.deepEqual(args.slice(1, 4), [...FLAGS, BIN]);
    await stops(worker);
  });

  it('`node bin/queue.js` runs too (without the flags, which only the binary itself sets)', async () => {
    const { worker, args } = await idleWorker({});
    assert.deepEqual(args.slice(1, 2), [BIN]);
    await stops(worker);
  });
});
