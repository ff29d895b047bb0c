#!/bin/sh
// 2>/dev/null; export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"; exec node --max-semi-space-size=1 --heap-growing-percent=50 "$0" "$@"
// The `queue` binary: runs the program compiled to dist/ (`npm run build`; `npm ci` builds it) and
// exits with its code. It registers no loader hook, since on Node 20 one costs a thread and about
// 34 MB; the project's TypeScript (config/queue.ts, app/jobs) is compiled on the fly instead (see
// src/modules/import.ts).
// The first two lines are read by sh, not Node: `//` fails quietly as a command, and the rest starts
// Node on this file with what only process start can set. A shebang cannot carry these flags
// portably (`env -S` is GNU's; Alpine's BusyBox env has no -S), while every system has /bin/sh. To
// Node both lines are comments. They give a small young generation (V8 otherwise grows it to 16 MB
// semi-spaces under load), an old generation that grows to 1.5 times what is live rather than up to
// 4 times (a busy worker promotes many short-lived objects; 100,000 jobs grew RSS by 19 MB with V8's
// default and by 3 MB with this, at the same speed), and two malloc arenas unless the environment
// sets another number (every thread would get its own). See test/e2e/memory.e2e.test.ts. The cost is
// a few more, shorter collections. `node bin/queue.js` works too, without these settings.
import { existsSync } from 'node:fs';

// A process manager may stop a worker the moment it has started it. Until the worker listens for
// itself, a stop signal is noted here instead of ending the process (exit 143), and handed over.
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'];
const early = [];
const note = (signal) => early.push(signal);
if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'work') for (const signal of STOP_SIGNALS) process.on(signal, note);
const takeEarlySignals = () => {
  for (const signal of STOP_SIGNALS) process.off(signal, note);
  return early.splice(0);
};

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: queue is not built (dist/cli/main.js is missing); run `npm run build` (or `npm ci`, which builds it)\n');
  process.exitCode = 1;
} else {
  const { main } = await import(entry.href);
  const code = await main(process.argv, { takeEarlySignals });
  // A job that ignored its timeout may still hold the event loop: leave anyway, but only once what
  // was written to stdout and stderr has gone out (on a pipe those writes are asynchronous).
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
