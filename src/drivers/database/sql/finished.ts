/** The columns of a finished record, shared by the finish (finish.ts) and the claim's expiry (claim.ts). */
import { sql, type RawBuilder } from 'kysely';
import { FINISHED_AT_END } from '../schema.ts';

/**
 * What a finish sets, column by column: the state, result, finish time and end of its keep; its
 * lease token dropped, its available_at past every claim's range, its priority 0 (off every
 * priority's range) and its unique key let go of. The claim's expiry sets the same.
 */
export function finishedColumns(state: string, result: RawBuilder<unknown>, keep: RawBuilder<unknown>, now: RawBuilder<number>): [string, RawBuilder<unknown>][] {
  return [
    ['state', sql`${state}`],
    ['result', result],
    ['reserved_by', sql`null`],
    ['available_at', sql`${FINISHED_AT_END}`],
    ['finished_at', now],
    ['expires_at', sql`${now} + ${keep}`],
    ['priority', sql`0`],
    ['unique_key', sql`null`],
  ];
}
