/**
 * Why a worker stopped, decided in one place. Every planned stop exits 0 so a process manager
 * simply starts a fresh worker; only running out of memory has its own code (12, as in Laravel).
 */
export type StopReasonCode = 'signal' | 'interrupted' | 'restart' | 'max-jobs' | 'max-time' | 'memory' | 'empty' | 'once' | 'hung-job';

export interface StopReason {
  code: StopReasonCode;
  exitCode: number;
  message: string;
}

const EXIT_CODES: Record<StopReasonCode, number> = {
  signal: 0,
  restart: 0,
  'max-jobs': 0,
  'max-time': 0,
  empty: 0,
  once: 0,
  memory: 12,
  // In-flight jobs were handed back; the conventional code for "stopped by Ctrl-C".
  interrupted: 130,
  // A job ignored its timeout and may still be running: this process cannot be trusted.
  'hung-job': 3,
};

export function stopReason(code: StopReasonCode, message: string): StopReason {
  return { code, exitCode: EXIT_CODES[code], message };
}

export interface StopCheck {
  processed: number;
  startedAt: number;
  now: number;
  rssBytes: number;
  /** Both by the backend's clock. */
  restartRequestedAt: number | null;
  startedAtBackend: number;
  options: { maxJobs?: number; maxTime?: number; memory?: number; once?: boolean };
}

/** Should the worker stop taking jobs now, and why? null: carry on. */
export function stopIfNecessary(s: StopCheck): StopReason | null {
  const { options } = s;
  if (s.restartRequestedAt !== null && s.restartRequestedAt >= s.startedAtBackend) return stopReason('restart', 'queue restart was requested');
  if (options.memory !== undefined && s.rssBytes > options.memory * 1024 * 1024) {
    return stopReason('memory', `memory ${Math.round(s.rssBytes / 1048576)} MB is over the --memory limit of ${options.memory} MB`);
  }
  if (options.maxJobs !== undefined && s.processed >= options.maxJobs) return stopReason('max-jobs', `processed ${s.processed} jobs (--max-jobs)`);
  if (options.once && s.processed >= 1) return stopReason('once', 'processed one job (--once)');
  if (options.maxTime !== undefined && s.now - s.startedAt >= options.maxTime * 1000) return stopReason('max-time', `ran for ${options.maxTime}s (--max-time)`);
  return null;
}
