/**
 * Process signals, the way process managers and people use them: SIGTERM, SIGINT and SIGQUIT stop
 * gracefully; a second SIGINT stops at once and hands in-flight jobs back; SIGUSR2 pauses and
 * SIGCONT resumes.
 */
import type { Logger } from 'pino';
import { stopReason } from './stop.ts';
import type { Worker } from './Worker.ts';

export function installSignalHandlers(worker: Worker, log: Logger): () => void {
  let interrupts = 0;
  const graceful = (signal: NodeJS.Signals) => () => {
    log.info(`${signal} received: finishing in-flight jobs, taking no new ones`);
    worker.stop(stopReason('signal', `${signal} received`));
  };
  const onInt = () => {
    interrupts += 1;
    if (interrupts === 1) return graceful('SIGINT')();
    log.warn('second SIGINT: handing in-flight jobs back and stopping now');
    worker.stopNow();
  };
  const handlers: [NodeJS.Signals, () => void][] = [
    ['SIGTERM', graceful('SIGTERM')],
    ['SIGQUIT', graceful('SIGQUIT')],
    ['SIGINT', onInt],
    ['SIGUSR2', () => worker.pause()],
    ['SIGCONT', () => worker.resume()],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
