/**
 * Errors that escape a job's handle(): a promise it rejects without awaiting, an exception thrown
 * in a timer or event callback it set up. Node ends the process on either, which would take every
 * other job in flight with it until their leases run out, and leave the real cause on stderr only.
 * A worker process catches them instead: the job the error came from fails with it, and an error
 * that cannot be tied to a running job is logged. The worker goes on either way.
 *
 * Which job: the one in whose async scope the error arose, where attempts run in one (see
 * attempt.ts); else the one running job whose source file the error's stack names, or the only job
 * running when the stack names none. When that leaves doubt (two jobs of one class at once), the
 * error is logged, and attempts run in a scope from then on, so that the next one is traced.
 *
 * process.exit() called by job code cannot be stopped; the worker's last line says so, and which
 * job did it, before the process ends.
 */
import type { Logger } from 'pino';
import { describeError, firstLine, toError } from '../errors.ts';
import { attemptInScope, onStray, runningAttempts, traceStrays, type StrayListener } from './attempt.ts';

/** `jobFiles`: every registered job's source file, relative to the project root. */
export function installStrayHandlers(log: Logger, jobFiles: readonly string[]): () => void {
  const stray = (kind: string) => (value: unknown) => {
    const error = toError(value);
    const attempt = attemptOf(describeError(error), jobFiles);
    if (attempt?.[onStray](error)) {
      log.warn({ jobId: attempt.id, err: firstLine(error.message) }, `${kind} escaped job ${attempt.id}; it fails with it: ${firstLine(error.message)}`);
      return;
    }
    if (!attempt) traceStrays();
    const whose = attempt ? `job ${attempt.id}, which had already ended` : 'no job it could be tied to';
    log.error({ err: describeError(error) }, `${kind} in ${whose}; the worker carries on: ${firstLine(error.message)}`);
  };
  const onRejection = stray('an unhandled promise rejection');
  const onException = stray('an uncaught exception');
  const onExit = (code: number) => {
    const attempt = attemptOf(new Error('process.exit()').stack ?? '', jobFiles);
    const who = attempt ? `job ${attempt.id}` : 'code running in this worker';
    log.error({ exitCode: code, jobId: attempt?.id }, `worker stopped: ${who} called process.exit(${code}); jobs in flight run again after their leases (exit ${code})`);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.on('exit', onExit);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.off('exit', onExit);
  };
}

/** The attempt an error with this stack came from, when that can be told; see the header. */
function attemptOf(stack: string, jobFiles: readonly string[]): StrayListener | undefined {
  const inScope = attemptInScope();
  if (inScope) return inScope;
  const named = new Set(jobFiles.filter((file) => stack.includes(`/${file}:`)));
  const running = [...runningAttempts()];
  const candidates = named.size > 0 ? running.filter((attempt) => attempt.file !== undefined && named.has(attempt.file)) : running;
  return candidates.length === 1 ? candidates[0] : undefined;
}
