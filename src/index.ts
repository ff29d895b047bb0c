/** The public API: what application code and config files import. */
export { Job, type JobContext, type JobData, type Backoff } from './jobs/Job.ts';
export { dispatch, Queue, type Dispatched, type DispatchInfoOptions } from './queue/dispatch.ts';
export { createWorker, QueueWorker, type CreateWorkerOptions } from './queue/create-worker.ts';
export type { QueueFake, FakeDispatch, FakePredicate, FakeRun } from './queue/fake.ts';
export type { WorkerEvents, JobRun } from './worker/events.ts';
export type { StopReason } from './worker/stop.ts';
export type { DispatchOptions, Keep, Duration, UniqueRule } from './jobs/settings.ts';
export { defineConfig, type QueueConfig } from './config/define.ts';
export { defineSchedule, type ScheduleEntry, type MissedPolicy } from './config/schedule.ts';
export type { ScheduleInfo } from './queue/schedules.ts';
export { env } from './env.ts';
export { databaseFromEnv, redisFromEnv, securityFromEnv } from './config/defaults.ts';
export { QueueError, UnrecoverableError, JobTimeoutError, JobCancelledError, type ErrorCode } from './errors.ts';
export type { Driver, Reservation, FailedJob, QueueStats, JobState } from './contract/driver.ts';
export type { JobInfo } from './queue/records.ts';
export type { QueueMetrics, Percentiles, SeriesPoint, MetricsWindow, WorkerInfo } from './queue/monitoring.ts';
