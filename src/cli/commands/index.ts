import type { Command } from 'commander';
import type { CliApp } from '../app.ts';
import { registerCancel } from './cancel.ts';
import { registerClean } from './clean.ts';
import { registerClear } from './clear.ts';
import { registerCompletion } from './completion.ts';
import { registerDashboard } from './dashboard.ts';
import { registerDispatch } from './dispatch.ts';
import { registerFailedFlush, registerFailedPrune } from './failed-flush.ts';
import { registerFailedForget } from './failed-forget.ts';
import { registerFailedList } from './failed-list.ts';
import { registerFailedShow } from './failed-show.ts';
import { registerInit } from './init.ts';
import { registerJobs } from './jobs.ts';
import { registerKeyGenerate } from './key-generate.ts';
import { registerList } from './list.ts';
import { registerMakeJob } from './make-job.ts';
import { registerMigrate } from './migrate.ts';
import { registerMetrics, registerMonitor, registerWorkers } from './monitoring.ts';
import { registerPause, registerResume } from './pause.ts';
import { registerRecordTimeout } from './record-timeout.ts';
import { registerRestart } from './restart.ts';
import { registerRetry } from './retry.ts';
import { registerScheduleList, registerSchedulePause, registerScheduleRun } from './schedule.ts';
import { registerShow } from './show.ts';
import { registerStatus } from './status.ts';
import { registerWait } from './wait.ts';
import { registerWork } from './work.ts';

export function registerCommands(program: Command, app: CliApp): void {
  for (const register of [
    registerWork, registerDispatch, registerStatus, registerJobs,
    registerShow, registerList, registerCancel, registerWait, registerClean,
    registerFailedList, registerFailedShow, registerRetry, registerFailedForget, registerFailedFlush, registerFailedPrune,
    registerScheduleList, registerScheduleRun, registerSchedulePause,
    registerWorkers, registerMetrics, registerMonitor,
    registerDashboard,
    registerClear, registerRestart, registerPause, registerResume, registerMigrate, registerInit, registerMakeJob, registerKeyGenerate, registerRecordTimeout,
  ]) {
    register(program, app);
  }
  registerCompletion(program);
}
