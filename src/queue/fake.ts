/**
 * Queue.fake(): dispatch() and Queue.* record jobs instead of storing them, for an application's own
 * tests, with no backend. Each job is encoded as it would be for real (a field that cannot be
 * serialized fails the test at dispatch, as it would in production), and assertions read it back
 * decoded, a fresh instance as a worker would build it. runAll() runs the recorded jobs through the
 * real attempt path. Assertions throw node:assert's AssertionError, which node:test, Vitest and Jest
 * all report.
 */
import { AssertionError } from 'node:assert';
import type { Logger } from 'pino';
import pino from 'pino';
import type { Envelope } from '../jobs/envelope.ts';
import type { Job, JobClass } from '../jobs/Job.ts';
import { packJob } from '../jobs/pack.ts';
import { decodeData } from '../jobs/serialize.ts';
import type { DispatchOptions } from '../jobs/settings.ts';
import { instantiate } from '../running/attempt.ts';
import { runInline, type InlineResult } from '../running/inline.ts';

/** One recorded dispatch. */
export interface FakeDispatch<T extends Job = Job> {
  jobClass: JobClass<T>;
  /** The envelope as it would be stored. */
  envelope: Envelope;
  /** A fresh instance decoded from the envelope, as a worker would run it. */
  job: T;
  queue: string;
  /** Milliseconds from dispatch until it may run. */
  delayMs: number;
  /** Its priority (0 unless the class or the dispatch set one). */
  priority: number;
  connection: string | undefined;
}

export type FakePredicate<T extends Job> = (job: T, dispatch: FakeDispatch<T>) => boolean;

/** What runAll() did with one recorded job. */
export interface FakeRun extends InlineResult {
  dispatch: FakeDispatch;
}

export class QueueFake {
  readonly dispatched: FakeDispatch[] = [];

  /** Records jobs as dispatch() would store them; returns their ids. */
  record(jobs: Job[], options: DispatchOptions): string[] {
    // Encode them all before recording any: a bulk is all or nothing, as for real.
    const recorded = jobs.map((job) => {
      const jobClass = job.constructor as JobClass;
      const name = jobClass.jobName ?? jobClass.name;
      const { envelope, placement } = packJob(job, name, options);
      return { jobClass, envelope, job: instantiate(jobClass, name, decodeData(envelope.data)), queue: envelope.queue, delayMs: placement.delayMs, priority: placement.priority ?? 0, connection: options.connection ?? jobClass.connection };
    });
    this.dispatched.push(...recorded);
    return recorded.map((r) => r.envelope.id);
  }

  /** The recorded dispatches of `jobClass` that `predicate` accepts. */
  dispatchedOf<T extends Job>(jobClass: JobClass<T>, predicate?: FakePredicate<T>): FakeDispatch<T>[] {
    const ofClass = this.dispatched.filter((d) => d.jobClass === jobClass) as FakeDispatch<T>[];
    return predicate ? ofClass.filter((d) => predicate(d.job, d)) : ofClass;
  }

  assertDispatched<T extends Job>(jobClass: JobClass<T>, predicate?: FakePredicate<T>): void {
    if (this.dispatchedOf(jobClass, predicate).length > 0) return;
    fail(`expected ${jobClass.name} to be dispatched${predicate ? ' as the predicate asks' : ''}, but it was not; ${this.summary()}`);
  }

  assertDispatchedTimes<T extends Job>(jobClass: JobClass<T>, times: number, predicate?: FakePredicate<T>): void {
    const count = this.dispatchedOf(jobClass, predicate).length;
    if (count !== times) fail(`expected ${jobClass.name} to be dispatched ${times} time(s), but it was ${count} time(s); ${this.summary()}`);
  }

  assertNotDispatched<T extends Job>(jobClass: JobClass<T>, predicate?: FakePredicate<T>): void {
    const count = this.dispatchedOf(jobClass, predicate).length;
    if (count > 0) fail(`expected ${jobClass.name} not to be dispatched${predicate ? ' as the predicate asks' : ''}, but it was ${count} time(s)`);
  }

  assertNothingDispatched(): void {
    if (this.dispatched.length > 0) fail(`expected nothing to be dispatched; ${this.summary()}`);
  }

  /** `jobClass` was dispatched onto `queue`. */
  assertDispatchedOn<T extends Job>(jobClass: JobClass<T>, queue: string): void {
    this.assertDispatched(jobClass, (_, d) => d.queue === queue);
  }

  /** `jobClass` was dispatched with a delay of `seconds` (to the second). */
  assertDispatchedWithDelay<T extends Job>(jobClass: JobClass<T>, seconds: number): void {
    this.assertDispatched(jobClass, (_, d) => Math.round(d.delayMs / 1000) === Math.round(seconds));
  }

  /**
   * Runs every recorded job, in order, through the real attempt path (its timeout, its tries without
   * waiting out backoff, its completed(), retrying() and failed() hooks), as the sync connection does; jobs those jobs dispatch
   * are recorded and run too. Returns what became of each.
   */
  async runAll(options: { logger?: Logger } = {}): Promise<FakeRun[]> {
    const log = options.logger ?? pino({ level: 'silent' });
    const runs: FakeRun[] = [];
    for (let i = 0; i < this.dispatched.length; i += 1) {
      const dispatch = this.dispatched[i]!;
      runs.push({ dispatch, ...(await runInline(dispatch.jobClass, dispatch.envelope, 'fake', log)) });
    }
    return runs;
  }

  private summary(): string {
    if (this.dispatched.length === 0) return 'nothing was dispatched';
    const counts = new Map<string, number>();
    for (const d of this.dispatched) counts.set(d.jobClass.name, (counts.get(d.jobClass.name) ?? 0) + 1);
    return `dispatched: ${[...counts].map(([name, n]) => `${name} x${n}`).join(', ')}`;
  }
}

function fail(message: string): never {
  throw new AssertionError({ message });
}
