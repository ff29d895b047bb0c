#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// The `queue` binary: runs the program compiled to dist/ (`npm run build`; `npm ci` builds it) and
// exits with its code. It registers no loader hook, since on Node 20 one costs a thread and about
// 34 MB; the project's TypeScript (config/queue.ts, app/jobs) is compiled on the fly instead (see
// src/modules/import.ts).
// The shebang sets what only process start can: a small young generation (V8 otherwise grows it to
// 16 MB semi-spaces under load, which reads as RSS growth) and two malloc arenas (every thread would
// get its own). A worker that runs for weeks then stays within a MB over 100,000 jobs (see
// test/long/memory.test.ts); the cost is a few more, shorter scavenges.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: queue is not built (dist/cli/main.js is missing); run `npm run build` (or `npm ci`, which builds it)\n');
  process.exitCode = 1;
} else {
  const { main } = await import(entry.href);
  const code = await main(process.argv);
  // A job that ignored its timeout may still hold the event loop: leave anyway, but only once what
  // was written to stdout and stderr has gone out (on a pipe those writes are asynchronous).
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
