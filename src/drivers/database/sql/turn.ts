/**
 * A holding worker's turn (DatabaseHolding) in fewer round trips than its parts one by one: the
 * ack's DELETE and finish, the start, the give-back and the claim of the next hold, from one queue.
 * Round trips are what a turn costs here (a statement's about 0.2 ms, a commit's disk flush less).
 *
 * PostgreSQL: the parts are the data-modifying parts of one WITH, with the NOTIFY of the acks that
 * keep a record: one round trip and one commit per turn. They touch different rows (the rows acked,
 * started and given back are leased to this worker, which the claim passes over) and see the
 * statement's one snapshot, so a job given back here is held again by a later turn, not this one.
 *
 * MySQL and MariaDB: the parts but the claim one after another in the caller's transaction, each
 * one statement that finds its rows by primary key and keeps those still held by their tokens. Every
 * row of a turn is this worker's own lease, so the lock before each change (owned.ts), a round trip
 * more per part, is left out, and the rare row whose lease was lost is looked up after: an ack and
 * a start with BEGIN and COMMIT are four round trips, not six.
 *
 * Parameters: the rows of each part and the lease of a start, the claim's; `now` is the dialect's
 * clock; `channel` hears the job ids of the acks that keep a record. Returns each part's rows.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { TurnDone, TurnParts } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';
import { claimedRows, claimQuery, type RawRow } from './claim.ts';
import { deleteOwnedQuery, withGoneRows } from './deleteOwned.ts';
import { finishing, finishOwnedQuery, tellFinished } from './finish.ts';
import { heldByArrays, heldByKey, stillHeld, updateOwnedQuery } from './owned.ts';
import { GIVEN_BACK } from './release.ts';
import { starting } from './start.ts';

/** One row of the final SELECT: which part it comes from, and a held row's columns. */
type TurnRow = RawRow & { part: 'acked' | 'started' | 'held' | 'told' };

export async function turnInOneStatement(db: Kysely<Tables>, table: string, parts: TurnParts, now: RawBuilder<number>, channel: string): Promise<TurnDone> {
  const withs: RawBuilder<unknown>[] = [];
  const reads: RawBuilder<unknown>[] = [];
  // Typed nulls: a UNION of several parts resolves its column types two parts at a time.
  const idsFrom = (part: string, from: string, id = sql`id`) => sql`select ${sql.lit(part)}::text as part, ${id}::bigint as id, null::text as queue, null::text as payload,
    null::integer as attempts, null::bigint as available_at, null::integer as priority from ${sql.table(from)}`;
  if (parts.plain.length > 0) {
    withs.push(sql`deleted as (${deleteOwnedQuery(table, parts.plain, heldByArrays)})`);
    reads.push(idsFrom('acked', 'deleted'));
  }
  if (parts.kept.length > 0) {
    withs.push(sql`finished as (${finishOwnedQuery(table, parts.kept, 'completed', now, heldByArrays)})`, sql`told as (${tellFinished(channel, 'finished')})`);
    // Read, or the NOTIFY of `told` would not run.
    reads.push(idsFrom('acked', 'finished'), idsFrom('told', 'told', sql`count(*)`));
  }
  if (parts.starts.length > 0) {
    withs.push(sql`started as (${updateOwnedQuery(table, parts.starts, starting(parts.starts, now, parts.lease), heldByArrays)})`);
    reads.push(idsFrom('started', 'started'));
  }
  if (parts.giveBacks.length > 0) withs.push(sql`given as (${updateOwnedQuery(table, parts.giveBacks, GIVEN_BACK, heldByArrays)})`);
  if (parts.hold) {
    withs.push(sql`held as (${claimQuery(table, parts.hold, now, true)})`);
    reads.push(sql`select 'held' as part, id, queue, payload, attempts, available_at, priority from held`);
  }
  const read = reads.length > 0 ? sql.join(reads, sql` union all `) : sql`select 'none' as part`;
  const { rows } = await sql<TurnRow>`with ${sql.join(withs)} ${read}`.execute(db);
  const of = (part: TurnRow['part']) => rows.filter((row) => row.part === part);
  return {
    acked: new Set(of('acked').map((row) => Number(row.id))),
    started: new Set(of('started').map((row) => Number(row.id))),
    held: parts.hold ? claimedRows(of('held'), parts.hold) : [],
  };
}

/** MySQL and MariaDB, in the caller's transaction: the acks, starts and give-backs (see the header); the claim is the caller's. */
export async function turnByPrimaryKey(trx: Kysely<Tables>, table: string, parts: TurnParts, now: RawBuilder<number>): Promise<Omit<TurnDone, 'held'>> {
  const jobs = sql.table(table);
  const changed = async (query: RawBuilder<unknown>) => Number((await query.execute(trx)).numAffectedRows ?? 0);
  const acks = [...parts.plain, ...parts.kept];
  let acked = 0;
  if (parts.plain.length > 0) acked += await changed(sql`delete ${jobs} from ${jobs} force index (primary) where ${heldByKey(parts.plain)}`);
  if (parts.kept.length > 0) acked += await changed(sql`update ${jobs} force index (primary) set ${finishing(parts.kept, 'completed', now)} where ${heldByKey(parts.kept)}`);
  let started = 0;
  if (parts.starts.length > 0) started = await changed(sql`update ${jobs} force index (primary) set ${starting(parts.starts, now, parts.lease)} where ${heldByKey(parts.starts)}`);
  if (parts.giveBacks.length > 0) await changed(sql`update ${jobs} force index (primary) set ${GIVEN_BACK} where ${heldByKey(parts.giveBacks)}`);
  // A start keeps its token, so the rows still held are the ones it started; an ack done is a row gone or finished.
  return {
    acked: acked === acks.length ? new Set(acks.map((row) => row.id)) : await withGoneRows(trx, table, acks, new Set()),
    started: started === parts.starts.length ? new Set(parts.starts.map((row) => row.id)) : await stillHeld(trx, table, parts.starts),
  };
}
