/**
 * The library as `queue work` runs it: the built dist/ (plain JavaScript), not src/ through tsx.
 * tsx compiles with esbuild's keepNames, which adds a call to every closure it creates; the shipped
 * code does not pay that, so measuring src/ would understate it (by a quarter at concurrency 50
 * here). Values come from dist/, their types from src/. `npm run bench` builds first.
 */
type Module<T> = Promise<T>;

function built<T>(file: string): Module<T> {
  return import(new URL(`../../../dist/${file}`, import.meta.url).href) as Module<T>;
}

export const { defineConfig } = await built<typeof import('../../../src/config/define.ts')>('config/define.js');
export const { QueueManager } = await built<typeof import('../../../src/queue/manager.ts')>('queue/manager.js');
export const { Worker } = await built<typeof import('../../../src/worker/Worker.ts')>('worker/Worker.js');
export const { Watchdog } = await built<typeof import('../../../src/running/watchdog.ts')>('running/watchdog.js');
