/**
 * The `queue` program: one commander program, one file per command under commands/. Errors a user
 * can cause print one line (what was wrong, what to do) and exit non-zero; --verbose adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { describeError, QueueError } from '../errors.ts';
import { ownPackage } from '../modules/resolve.ts';
import { CliApp } from './app.ts';
import { registerCommands } from './commands/index.ts';

export async function main(argv: string[], options: { takeEarlySignals?: () => NodeJS.Signals[] } = {}): Promise<number> {
  const app = new CliApp(options.takeEarlySignals);
  const program = new Command('queue')
    .description('A Laravel-style job queue for TypeScript: dispatch jobs, run workers, inspect and retry failures.')
    .version(`${ownPackage().name} ${ownPackage().version}`, '-V, --version', 'print the package name and version')
    .option('--verbose', 'print the stack trace with errors')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      // Usage errors stay on one line: "error: unknown command 'wrok' (Did you mean work?)".
      outputError: (text, write) => write(`${text.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });
  registerCommands(program, app);

  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const verbose = program.opts().verbose === true;
    const message = error instanceof QueueError ? error.message : (error as Error)?.message ?? String(error);
    process.stderr.write(`error: ${message}\n`);
    if (verbose) process.stderr.write(`${describeError(error)}\n`);
    return 1;
  } finally {
    await app.close();
  }
}
