#!/usr/bin/env node
// The `queue` binary: registers the TypeScript loader (so app/jobs and config/queue.ts need no
// build step), runs the program, and exits with its code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
// A job that ignored its timeout may still hold the event loop: leave anyway, but only once what
// was written to stdout and stderr has gone out (on a pipe those writes are asynchronous).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
