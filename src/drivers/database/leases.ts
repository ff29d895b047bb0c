/**
 * Leasing jobs to a worker: the claim (sql/claim.ts) across its queues, from the first that has any
 * in priority order, as reserve() makes it and as a holding worker's turn does (DatabaseHolding).
 * A lease's token names every row it took, so a claim made again under the same token (a turn run
 * twice: its first answer was lost with the connection) hands out what the first run leased.
 */
import type { Kysely } from 'kysely';
import type { Reservation, ReserveOptions } from '../../contract/driver.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import type { Tables } from './schema.ts';
import { claimedBefore, type ClaimedRow, type ClaimParams } from './sql/claim.ts';

export interface LeaseOptions extends ReserveOptions {
  /** Hold the jobs this long, their try not counted until they start (a turn's take); absent or 0: count it now. */
  holdMs?: number;
}

/** Leases up to `count` jobs from the first of `queues` that has any, in claim order. */
export async function claimFirst(db: Kysely<Tables>, dialect: SqlDialect, table: string, queues: string[], options: LeaseOptions, token: string): Promise<Reservation[]> {
  for (const queue of queues) {
    const rows = await dialect.claim(db, table, claimParams(queue, options, token));
    if (rows.length > 0) return reservationsOf(rows, token);
  }
  return [];
}

/** The claim's parameters for one queue: whole milliseconds, and a hold only when it has a length. */
export function claimParams(queue: string, options: LeaseOptions, token: string): ClaimParams {
  return {
    queue,
    count: options.count,
    token,
    defaultTimeoutMs: Math.ceil(options.defaultTimeoutMs),
    marginMs: Math.ceil(options.leaseMarginMs),
    holdMs: options.holdMs ? Math.ceil(options.holdMs) : undefined,
  };
}

/** What a claim under `token` leased before (claimedBefore), or, when it leased nothing, a claim now. */
export async function claimAgain(db: Kysely<Tables>, dialect: SqlDialect, table: string, queues: string[], options: LeaseOptions, token: string): Promise<Reservation[]> {
  const before = await claimedBefore(db, table, queues, token, { holdMs: options.holdMs || undefined });
  return before.length > 0 ? reservationsOf(before, token) : claimFirst(db, dialect, table, queues, options, token);
}

export function reservationsOf(rows: ClaimedRow[], token: string): Reservation[] {
  return rows.map((row) => ({ handle: String(row.id), queue: row.queue, payload: row.payload, attempts: row.attempts, token, leaseExpiresAt: row.available_at }));
}
