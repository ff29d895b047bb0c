/**
 * A job source that holds a few jobs ahead (drivers with the Holding ability: Redis). Without it a
 * worker at concurrency 1 waits one round trip between every two jobs; with it, the next job is at
 * hand when a slot frees, and the round trip that counts its try, carries the last job's ack and
 * asks for more goes out while it runs.
 *
 * What keeps this safe:
 * - A held job's try is not counted until it starts, so a worker killed while holding it costs it
 *   nothing: it comes back after its short hold lease as if never taken.
 * - A start is sent before the job runs, and the job runs before the answer only when the bytes are
 *   already with the operating system (Holding.turn's `written`); a job that kills its worker at
 *   once has still used up a try.
 * - A held job is started only in the first half of its hold lease and otherwise given back, so no
 *   lease can run out (and the job go to another worker) between our start and its arrival.
 * - How far ahead to hold follows the work: beyond the next take, about as many jobs as finish in
 *   one round trip (moving averages of both), at most 4 per slot + 64. Jobs slower than a round
 *   trip are thus not held ahead at all, and a higher-priority queue waits behind at most that many.
 * - A worker woken from idleness (its last take found nothing) starts what its next take finds in
 *   that same turn: one round trip before the job runs, where a hold and then its start were two
 *   (PostgreSQL pick-up p50: 10.7 ms before this and the signals change, 7.8 after). Holding
 *   ahead resumes at the take after it.
 * - A turn that fails (the connection dropped, Redis is away) is not the end of what it carried:
 *   its acks, give-backs and the starts of jobs already running go again in the next turn (each is
 *   safe to apply twice, see turn.lua), and held jobs it was to start before running them are held
 *   again. An ack's promise settles when a turn that carries it is answered.
 * - While a turn is on its way, acks wait for the next one (group commit): a worker running many
 *   short jobs sends one turn per round trip, not one per job.
 * - With `prefetch` (`queue work --prefetch N`), a worker of fast jobs starts up to N jobs in one
 *   turn (those it holds, or else as many taken and started in that turn), ahead of running them,
 *   and runs them one after another without a round trip each (graphile-worker's local queue).
 *   How many follows the work: about what finishes in two round trips, so jobs slower than a round
 *   trip are never started ahead. The price is the one of a running job: a worker killed (not
 *   stopped) has used a try of each job it started ahead and had not run, and those wait for their
 *   lease to run out. A started job not run within half the lease margin, one of a paused queue,
 *   and every one left at a stop is released with its try refunded.
 */
import type { Logger } from 'pino';
import type { Acknowledgement, Driver, Holding, Reservation, TurnResult } from '../contract/driver.ts';
import type { JobSource, SourceOptions } from './job-source.ts';
import { StartedAhead } from './started-ahead.ts';

interface Held {
  reservation: Reservation;
  /** performance.now() ms: after this the job is given back instead of started (half its hold lease). */
  startBy: number;
}

interface PendingAck {
  done: Acknowledgement;
  resolve: (acked: boolean) => void;
  reject: (error: unknown) => void;
}

/** The shortest hold lease: a held job's worker needs time to start it. */
const MIN_HOLD_MS = 2_000;
/** Beyond the next take, at most this many jobs per slot, and this many more, are held. */
const MAX_AHEAD_PER_SLOT = 4;
const MAX_EXTRA_AHEAD = 64;
/**
 * Turns starting jobs ahead that may be on their way at once, each for about 1/this of what is kept
 * started: the next is sent while the last is answered (PostgreSQL at c=1, 20,000 jobs: 14,600 to
 * 19,200 jobs/s with two against 14,500 to 16,200 with one).
 */
const STARTING_TURNS = 2;
/** Weight of the newest sample in the moving averages. */
const SMOOTHING = 0.2;
/** After a failed turn, what it carried goes again within this long even if the worker takes nothing. */
const RETRY_MS = 1_000;
/** A stopping worker tries this often, this far apart, to send its last acks and give-backs. */
const CLOSE_ATTEMPTS = 3;
const CLOSE_RETRY_MS = 500;

export class HoldingSource implements JobSource {
  private held: Held[] = [];
  /** Started ahead (prefetch) and not yet taken: the next takes run these first. */
  private readonly started: StartedAhead;
  /** The turns starting jobs ahead, while they are on their way (STARTING_TURNS at most). */
  private readonly starting = new Set<Promise<void>>();
  /** How many jobs the turns in `starting` asked for. */
  private coming = 0;
  /** Releases (try refunded) of jobs started ahead that will not run here, on their way. */
  private readonly refunds = new Set<Promise<unknown>>();
  /** Turns on their way: while there is one, acks wait for the next turn. */
  private inFlight = 0;
  private acks: PendingAck[] = [];
  private giveBacks: Reservation[] = [];
  /** Starts of running jobs whose turn failed: sent again with the next turn. */
  private restarts: Reservation[] = [];
  /** Turns in flight that asked for more jobs, and how many jobs they asked for in all. */
  private readonly refills = new Set<Promise<void>>();
  private requested = 0;
  /** The flush of acks and give-backs no turn has carried yet, if one is due. */
  private flush: NodeJS.Immediate | undefined;
  /** A flush of what a failed turn carried, if no turn carries it sooner. */
  private retry: NodeJS.Timeout | undefined;
  private readonly holdMs: number;
  /** Moving averages, ms: a done job's run time, and a turn's round trip. Slow jobs until the first is done. */
  private jobMs = 100;
  /** Whether a job was done yet (the first one sets jobMs). */
  private timedAJob = false;
  private roundTripMs = 1;
  /** The last take found nothing (or none was made yet): the worker waits for jobs between takes. */
  private foundNone = true;

  constructor(
    private readonly driver: Driver & Holding,
    private readonly options: SourceOptions,
    private readonly log: Logger,
  ) {
    this.holdMs = Math.max(options.leaseMarginMs, MIN_HOLD_MS);
    this.started = new StartedAhead(options.leaseMarginMs / 2);
  }

  async take(queues: string[], count: number, budget: number): Promise<Reservation[]> {
    this.giveBackUnusable(queues);
    while (this.started.size === 0 && this.starting.size > 0) {
      await Promise.race(this.starting);
      this.giveBackUnusable(queues);
    }
    if (this.started.size > 0) {
      const taken = this.started.take(count);
      this.foundNone = false;
      this.startAhead(queues, budget - taken.length);
      return taken;
    }
    const nothingHeld = this.held.length === 0 && this.refills.size === 0;
    const ahead = nothingHeld ? this.startAheadTarget(Math.max(0, budget - count)) : 0;
    if (nothingHeld && (this.foundNone || ahead > 0)) {
      // Woken from idleness (see the header), or starting ahead: started in the round trip that takes them.
      const sentAt = performance.now();
      const { result } = this.turn([], queues, Math.min(budget, count + ahead), { startAtOnce: true });
      const found = (await result).held;
      this.foundNone = found.length === 0;
      this.started.keep(found.slice(count), sentAt);
      return found.slice(0, count);
    }
    if (this.held.length === 0) {
      // Nothing at hand: make a request unless some are on their way, then wait until jobs arrive
      // or every request has come back (empty: the queues are).
      if (this.refills.size === 0) await this.askFor(queues, Math.min(budget, count + this.ahead()));
      while (this.held.length === 0 && this.refills.size > 0) await Promise.race(this.refills);
      this.giveBackUnusable(queues);
    }
    const takenHeld = this.held.splice(0, count);
    const taken = takenHeld.map((h) => h.reservation);
    this.foundNone = taken.length === 0;
    if (taken.length === 0) return [];
    const aheadHeld = this.held.splice(0, this.startAheadTarget(budget - taken.length));
    const more = this.refill(count, budget - taken.length - aheadHeld.length);
    const sentAt = performance.now();
    const { written, result } = this.turn([...taken, ...aheadHeld.map((h) => h.reservation)], more > 0 ? queues : [], more);
    if (written) this.started.keep(aheadHeld.map((h) => h.reservation), sentAt);
    // The starts must be on record before the jobs run: wait for Redis unless they already left.
    else {
      try {
        const outcome = await result;
        this.started.keep(startedOf(aheadHeld, outcome.started.slice(taken.length)), sentAt);
      } catch (error) {
        // Not started, not run: still held (or their hold runs out), for the next take to try again.
        this.held.unshift(...takenHeld, ...aheadHeld);
        throw error;
      }
    }
    return taken;
  }

  /**
   * How many jobs to hold at the next take beyond what is held and on its way: `count` plus what
   * finishes in a round trip, within what the worker will still run (`budget`); none while jobs
   * are started ahead instead. Small top-ups wait until they are worth a take of their own: 0.
   */
  private refill(count: number, budget: number): number {
    if (this.startAheadTarget(budget) > 0) return 0;
    const target = count + this.ahead();
    const shortfall = Math.min(budget, target) - this.held.length - this.requested;
    return shortfall >= Math.max(1, target / 4) ? shortfall : 0;
  }

  /** How many jobs to keep started ahead (prefetch): what finishes in about two round trips, within `budget`. */
  private startAheadTarget(budget: number): number {
    if (this.options.prefetch <= 0) return 0;
    const perRoundTrip = (this.roundTripMs * this.options.concurrency) / Math.max(this.jobMs, 0.001);
    return Math.max(0, Math.min(this.options.prefetch, budget, Math.floor(2 * perRoundTrip)));
  }

  /**
   * When what is started ahead runs low, one turn starts more while the jobs run: those still held,
   * or else as many taken and started in that turn.
   */
  private startAhead(queues: string[], budget: number): void {
    if (this.starting.size >= STARTING_TURNS) return;
    const target = this.startAheadTarget(budget);
    const have = this.started.size + this.coming;
    if (target === 0 || have > target - target / (2 * STARTING_TURNS)) return;
    const want = target - have;
    const batch = this.held.splice(0, want);
    const sentAt = performance.now();
    const { written, result } = batch.length > 0
      ? this.turn(batch.map((h) => h.reservation), [], 0)
      : this.turn([], queues, want, { startAtOnce: true });
    const alreadyKept = written && batch.length > 0;
    if (alreadyKept) this.started.keep(batch.map((h) => h.reservation), sentAt);
    const coming = alreadyKept ? 0 : want;
    this.coming += coming;
    const starting: Promise<void> = result.then(
      (outcome) => {
        if (batch.length === 0) this.started.keep(outcome.held, sentAt);
        else if (!written) this.started.keep(startedOf(batch, outcome.started), sentAt);
      },
      () => {
        // Not on record: held again (a written turn's starts go again with the next one).
        if (!written) this.held.unshift(...batch);
      },
    ).finally(() => {
      this.coming -= coming;
      this.starting.delete(starting);
    });
    this.starting.add(starting);
  }

  ack(done: Acknowledgement, ms: number): Promise<boolean> {
    // The first job done replaces the guess; the average follows from there.
    this.jobMs = this.timedAJob ? this.jobMs + (ms - this.jobMs) * SMOOTHING : ms;
    this.timedAJob = true;
    return new Promise((resolve, reject) => {
      this.acks.push({ done, resolve, reject });
      this.flushSoon();
    });
  }

  giveBack(): void {
    this.giveBackUnusable([]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.refills, ...this.starting]);
    this.refund(this.started.clear());
    await Promise.allSettled(this.refunds);
    this.giveBacks.push(...this.held.map((h) => h.reservation));
    this.held = [];
    clearTimeout(this.retry);
    for (let attempt = 1; this.pending; attempt += 1) {
      try {
        await this.turn([], [], 0).result;
      } catch (error) {
        if (attempt < CLOSE_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, CLOSE_RETRY_MS));
          continue;
        }
        const message = (error as Error).message;
        if (this.giveBacks.length > 0) this.log.warn({ err: message }, `could not give back held jobs: ${message}; they return to the queue when their hold lease runs out`);
        for (const p of this.acks.splice(0)) p.reject(error);
        this.giveBacks = [];
        this.restarts = [];
      }
    }
    clearTimeout(this.retry);
  }

  /** Whether acks, give-backs or starts wait for a turn. */
  private get pending(): boolean {
    return this.acks.length > 0 || this.giveBacks.length > 0 || this.restarts.length > 0;
  }

  /** How many jobs to hold beyond the next take: about as many as finish in one round trip. */
  private ahead(): number {
    const perRoundTrip = Math.round((this.roundTripMs * this.options.concurrency) / Math.max(this.jobMs, 0.001));
    return Math.min(perRoundTrip, MAX_AHEAD_PER_SLOT * this.options.concurrency + MAX_EXTRA_AHEAD);
  }

  /** Started ahead jobs released with their try refunded (they did not run here); errors are logged. */
  private refund(jobs: Reservation[]): void {
    for (const reservation of jobs) {
      const release: Promise<unknown> = this.driver.release(reservation, 0, { refundAttempt: true })
        .catch((error: unknown) => this.log.warn({ jobId: reservation.handle, err: (error as Error).message }, `could not release a job started ahead: ${(error as Error).message}; it runs again when its lease runs out`))
        .finally(() => this.refunds.delete(release));
      this.refunds.add(release);
    }
  }

  /** Jobs held or started ahead of queues no longer taken from (paused), or past their time to start, go back. */
  private giveBackUnusable(queues: string[]): void {
    this.refund(this.started.unusable(queues));
    if (this.held.length === 0) return;
    const now = performance.now();
    const keep: Held[] = [];
    for (const h of this.held) {
      if (h.startBy > now && queues.includes(h.reservation.queue)) keep.push(h);
      else this.giveBacks.push(h.reservation);
    }
    this.held = keep;
    if (this.giveBacks.length > 0) this.flushSoon();
  }

  /** A turn asking for `count` more jobs; resolves when they are held. */
  private askFor(queues: string[], count: number): Promise<void> {
    return this.turn([], queues, count).result.then(() => {});
  }

  /**
   * One round trip: the given starts, every pending ack, give-back and start to send again, and
   * maybe a take: of jobs held (kept for the next takes), or with `startAtOnce`, of jobs whose try
   * starts in this very turn (its result's `held`, for the caller to run). If it fails, what it
   * carried is pending again (see the header), except the given starts of a turn whose bytes had
   * not left: those jobs were not run, and the caller holds them again.
   */
  private turn(starts: Reservation[], queues: string[], count: number, { startAtOnce = false } = {}): { written: boolean; result: Promise<TurnResult> } {
    const acks = this.acks;
    const giveBacks = this.giveBacks;
    const restarts = this.restarts;
    this.acks = [];
    this.giveBacks = [];
    this.restarts = [];
    // This turn carries them: a flush planned for them would carry the next job's ack alone instead.
    clearImmediate(this.flush);
    this.flush = undefined;
    // One monotonic clock for round trips and hold deadlines: a wall clock that jumps could start a
    // held job after its hold ran out.
    const sentAt = performance.now();
    const allStarts = restarts.length > 0 ? [...restarts, ...starts] : starts;
    this.inFlight += 1;
    const { written, result } = this.driver.turn({
      acks: acks.map((p) => p.done),
      starts: allStarts,
      giveBacks,
      queues: count > 0 ? queues : [],
      options: { count, defaultTimeoutMs: this.options.defaultTimeoutMs, leaseMarginMs: this.options.leaseMarginMs, keeping: this.options.keeping, holdMs: startAtOnce ? 0 : this.holdMs },
    });
    const settled = result.then(
      (outcome) => {
        this.roundTripMs += (performance.now() - sentAt - this.roundTripMs) * SMOOTHING;
        acks.forEach((p, i) => p.resolve(outcome.acked[i] === true));
        const lost = allStarts.filter((_, i) => outcome.started[i] !== true);
        for (const r of lost) this.log.warn({ jobId: r.handle, queue: r.queue }, 'a held job lost its hold before it started (was the queue cleared?); it may run twice');
        // One started ahead and not yet run does not run.
        this.started.drop(lost);
        // Counted from before the request left: the hold lease cannot have started earlier.
        if (!startAtOnce) for (const reservation of outcome.held) this.held.push({ reservation, startBy: sentAt + this.holdMs / 2 });
        // `started` answers the given starts, not those sent again.
        return restarts.length > 0 ? { ...outcome, started: outcome.started.slice(restarts.length) } : outcome;
      },
      (error: unknown) => {
        this.acks.unshift(...acks);
        this.giveBacks.unshift(...giveBacks);
        this.restarts.unshift(...restarts, ...(written ? starts : []));
        // The next take carries them; an idle or paused worker makes no take, so try again soon.
        if (this.pending) this.retry ??= setTimeout(() => {
          this.retry = undefined;
          if (this.pending) this.flushSoon();
        }, RETRY_MS);
        throw error;
      },
    );
    // Acks that came while it was on its way go next.
    void settled.catch(() => {}).finally(() => {
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.pending) this.flushSoon();
    });
    if (count > 0 && !startAtOnce) {
      this.requested += count;
      const refill: Promise<void> = settled.then(() => {}).finally(() => {
        this.requested -= count;
        this.refills.delete(refill);
      });
      refill.catch(() => {});
      this.refills.add(refill);
    }
    return { written, result: settled };
  }

  /**
   * Acks and give-backs that no turn carried within this turn of the event loop go on their own,
   * once no turn is on its way (the end of one flushes what came meanwhile).
   */
  private flushSoon(): void {
    if (this.inFlight > 0) return;
    // A failure reaches each ack's own promise; nothing is left to report here.
    this.flush ??= setImmediate(() => void this.turn([], [], 0).result.catch(() => {}));
  }
}

/** The held jobs whose start a turn answered true (`started`, in the same order). */
function startedOf(held: Held[], started: boolean[]): Reservation[] {
  return held.filter((_, i) => started[i] === true).map((h) => h.reservation);
}
