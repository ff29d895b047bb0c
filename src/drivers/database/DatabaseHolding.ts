/**
 * The Holding ability on SQL (contract/driver.ts; the worker's side is worker/holding-source.ts):
 * one commit per turn of a worker that holds jobs ahead. In order, a turn acknowledges the done
 * jobs (as ack() does: deleted, or made their completed record), starts held jobs (sql/start.ts),
 * gives back those its worker will not run (sql/release.ts), then holds the next jobs (the claim
 * with `holdMs`: leased, their try not counted). PostgreSQL makes it one statement, MySQL one
 * transaction of statements by primary key (sql/turn.ts, the dialect's `turn`); SQLite runs the
 * parts one after another in one transaction. A worker at concurrency 1 thus pays one commit per
 * job, the ack of the last and the start of the next together, and a claim only every few jobs,
 * where reserve() and ack() cost a claim and an ack per job.
 *
 * `written` is always false: nothing is on record before the commit is answered, so the worker
 * runs a started job only once its turn has come back.
 *
 * Safe to run twice (DatabaseDriver.call runs a turn again when its connection was lost, maybe
 * after the commit): an ack finds its row gone, which counts as done; a start sets the try to the
 * one it is instead of adding one; a give-back finds its token gone; a take made again under the
 * same token hands out what the first run holds (leases.ts claimAgain) instead of taking more.
 *
 * A take that finds nothing while this driver's other writes are being committed looks once more
 * after them, as reserve() does (on MariaDB uncommitted deletes can make SKIP LOCKED pass over
 * every ready row); one that still finds nothing ends its queues' jobs past their expiry.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Holding, Reservation, Turn, TurnResult } from '../../contract/driver.ts';
import { DEFAULT_KEEPING } from '../../contract/records.ts';
import type { AckBatcher } from './AckBatcher.ts';
import type { DatabaseRecords } from './DatabaseRecords.ts';
import type { OwnedRow, SqlDialect } from './dialects/dialect.ts';
import { claimAgain, claimFirst, claimParams, reservationsOf } from './leases.ts';
import type { Tables } from './schema.ts';
import { acknowledge, ackParts, withGoneRows } from './sql/deleteOwned.ts';
import { giveBackHeld } from './sql/release.ts';
import { startHeld } from './sql/start.ts';

/** DatabaseDriver.call: runs database work, retrying a lost connection once, with errors made clear. */
type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

/** What a turn did, by row id; `held` in claim order. */
interface Done {
  acked: Set<number>;
  started: Set<number>;
  held: Reservation[];
}

const NOTHING: TurnResult = { acked: [], started: [], held: [] };

export class DatabaseHolding implements Holding {
  /** Turns' writes on their way: a take that finds nothing meanwhile looks again after them. */
  private readonly committing = new Set<Promise<unknown>>();

  constructor(
    private readonly dialect: SqlDialect,
    private readonly table: string,
    private readonly records: DatabaseRecords,
    private readonly acks: AckBatcher,
    private readonly call: Call,
  ) {}

  turn(turn: Turn): { written: boolean; result: Promise<TurnResult> } {
    const taking = turn.queues.length > 0 && turn.options.count > 0;
    if (!taking && turn.acks.length + turn.starts.length + turn.giveBacks.length === 0) return { written: false, result: Promise.resolve(NOTHING) };
    const token = randomUUID();
    let runs = 0;
    const done = this.call(taking ? 'reserve jobs' : 'acknowledge jobs', (db) => this.run(db, turn, taking ? token : undefined, runs++ > 0));
    const result = done.then(({ acked, started, held }) => ({
      acked: turn.acks.map((a) => acked.has(Number(a.reservation.handle))),
      started: turn.starts.map((r) => started.has(Number(r.handle))),
      held,
    }));
    return { written: false, result };
  }

  /** The turn's writes; then, for a take that found nothing, the look again and the expiry. */
  private async run(db: Kysely<Tables>, turn: Turn, token: string | undefined, again: boolean): Promise<Done> {
    const busy = [...this.committing];
    const acking = this.acks.busy;
    const committed = this.dialect.turn && !again
      ? this.byDialect(db, turn, token)
      : this.dialect.writeTransaction(db, (trx) => this.inOneTransaction(trx, turn, token, again));
    this.committing.add(committed);
    const done = await committed.finally(() => this.committing.delete(committed));
    if (token === undefined || done.held.length > 0) return done;
    busy.push(...this.committing);
    if (busy.length > 0 || acking || this.acks.busy) {
      await Promise.allSettled([...busy, this.acks.idle()]);
      done.held = await claimFirst(db, this.dialect, this.table, turn.queues, turn.options, token);
    }
    if (done.held.length === 0) await this.records.expireOverdue(db, (turn.options.keeping ?? DEFAULT_KEEPING).keepMs, turn.queues);
    return done;
  }

  /** The parts one after another in the caller's transaction (SQLite; a turn run again). */
  private async inOneTransaction(trx: Kysely<Tables>, turn: Turn, token: string | undefined, again: boolean): Promise<Done> {
    const { dialect, table } = this;
    const { acks, starts, giveBacks, lease } = rowsOf(turn);
    const acked = acks.length > 0 ? await acknowledge(trx, dialect, table, acks, this.records.channel) : new Set<number>();
    const started = starts.length > 0 ? await startHeld(trx, dialect, table, starts, lease) : new Set<number>();
    if (giveBacks.length > 0) await giveBackHeld(trx, dialect, table, giveBacks);
    const take = again ? claimAgain : claimFirst;
    return { acked, started, held: token === undefined ? [] : await take(trx, dialect, table, turn.queues, turn.options, token) };
  }

  /** The dialect's own turn (sql/turn.ts), its take from the first queue; the other queues after it, if that one had none. */
  private async byDialect(db: Kysely<Tables>, turn: Turn, token: string | undefined): Promise<Done> {
    const { acks, starts, giveBacks, lease } = rowsOf(turn);
    const [first, ...rest] = turn.queues;
    const hold = token === undefined || first === undefined ? undefined : claimParams(first, turn.options, token);
    const done = await this.dialect.turn!(db, this.table, { ...ackParts(acks), starts, lease, giveBacks, hold }, this.records.channel);
    const acked = done.acked.size < acks.length ? await withGoneRows(db, this.table, acks, done.acked) : done.acked;
    let held = token === undefined ? [] : reservationsOf(done.held, token);
    if (token !== undefined && held.length === 0 && rest.length > 0) held = await claimFirst(db, this.dialect, this.table, rest, turn.options, token);
    return { acked, started: done.started, held };
  }
}

/** A turn's rows as the statements name them, and the lease of a start. */
function rowsOf(turn: Turn) {
  const owned = (r: Reservation): OwnedRow => ({ id: Number(r.handle), token: r.token });
  return {
    acks: turn.acks.map((a) => ({ ...owned(a.reservation), completion: a.completion })),
    starts: turn.starts.map((r) => ({ ...owned(r), attempts: r.attempts })),
    giveBacks: turn.giveBacks.map(owned),
    lease: { defaultTimeoutMs: Math.ceil(turn.options.defaultTimeoutMs), marginMs: Math.ceil(turn.options.leaseMarginMs) },
  };
}
