#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// The `queue` binary: registers the TypeScript loader (so app/jobs and config/queue.ts need no
// build step), runs the program, and exits with its code.
// The shebang sets what only process start can: a small young generation (V8 otherwise grows it to
// 16 MB semi-spaces under load, which reads as RSS growth) and two malloc arenas (every thread would
// get its own). A worker that runs for weeks then stays within a MB over 100,000 jobs (see
// test/e2e/memory.e2e.test.ts); the cost is a few more, shorter scavenges.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
// A job that ignored its timeout may still hold the event loop: leave anyway, but only once what
// was written to stdout and stderr has gone out (on a pipe those writes are asynchronous).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
