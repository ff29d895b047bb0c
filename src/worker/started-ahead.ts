/**
 * The jobs a holding worker started ahead of running them (`--prefetch`, holding-source.ts): their
 * try is counted and their lease runs, so each must run soon or go back. A job is usable until half
 * the lease margin after the turn that started it was sent (its lease is its timeout and the
 * margin, so a job run by then still has its whole timeout inside its lease), and only while its
 * queue is still taken from (not paused).
 */
import type { Reservation } from '../contract/driver.ts';

interface Started {
  reservation: Reservation;
  /** performance.now() ms: after this the job is released instead of run. */
  runBy: number;
}

export class StartedAhead {
  /** In the order they were started, so the first is the oldest. */
  private jobs: Started[] = [];
  /** The queues every job here was last found usable for ([]: look at each again). */
  private usableFor: string[] = [];

  /** `runWithinMs`: how long after its start a job may still run here. */
  constructor(private readonly runWithinMs: number) {}

  get size(): number {
    return this.jobs.length;
  }

  /** Jobs whose start left at `sentAt` (performance.now() ms). */
  keep(reservations: readonly Reservation[], sentAt: number): void {
    const runBy = sentAt + this.runWithinMs;
    for (const reservation of reservations) this.jobs.push({ reservation, runBy });
    // The queues may have changed while their turn was on its way.
    this.usableFor = [];
  }

  /** Up to `count` jobs to run now, oldest first. */
  take(count: number): Reservation[] {
    return this.jobs.splice(0, count).map((s) => s.reservation);
  }

  /** Removes and returns the jobs past their time, or of queues not in `queues`. */
  unusable(queues: string[]): Reservation[] {
    if (this.jobs.length === 0) return [];
    const now = performance.now();
    // The first is the oldest; the queues change only with a pause.
    if (this.jobs[0]!.runBy > now && sameQueues(queues, this.usableFor)) return [];
    this.usableFor = queues;
    const usable = (s: Started) => s.runBy > now && queues.includes(s.reservation.queue);
    if (this.jobs.every(usable)) return [];
    const gone = this.jobs.filter((s) => !usable(s)).map((s) => s.reservation);
    this.jobs = this.jobs.filter(usable);
    return gone;
  }

  /** Forgets these jobs (their start was refused: another worker has them). */
  drop(lost: readonly Reservation[]): void {
    if (lost.length > 0 && this.jobs.length > 0) this.jobs = this.jobs.filter((s) => !lost.includes(s.reservation));
  }

  /** Removes and returns every job. */
  clear(): Reservation[] {
    return this.take(this.jobs.length);
  }
}

function sameQueues(a: string[], b: string[]): boolean {
  return a === b || (a.length === b.length && a.every((queue, i) => queue === b[i]));
}
