/**
 * The wire format of turn.lua, both ways: how a Turn becomes KEYS and ARGV, and how the script's
 * reply becomes a TurnResult. turn.lua's header documents the same layout from the other side.
 */
import type { Reservation, Turn, TurnResult } from '../../contract/driver.ts';
import type { QueueKeys } from './keys.ts';
import type { Reply } from './scripts.ts';

export interface EncodedTurn {
  keys: string[];
  args: (string | number)[];
  /** The queues of the turn in key order: a queue index i in the script is involved[i - 1]. */
  involved: string[];
  /** The queues taken from, in priority order (none when the turn takes nothing). */
  take: string[];
  token: string;
}

export interface DecodedTurn {
  result: TurnResult;
  /** The Redis clock when the turn ran, ms. */
  now: number;
  /** When the next delayed job or lease comes due on the queues taken from (Redis clock, ms), or -1. */
  nextDue: number;
}

/**
 * KEYS: 9 per involved queue (the queues taken from first, in priority order, then the others the
 * acks, starts and give-backs name). ARGV: count, hold (1 or 0), token, default timeout ms, lease
 * margin ms, hold ms; the take list; then acks, starts and give-backs, each a count and its groups
 * (queue index, id, token[, the try a start is]).
 */
export function encodeTurn(turn: Turn, keysOf: (queue: string) => QueueKeys, clientId: string, token: string): EncodedTurn {
  const { options } = turn;
  const take = options.count > 0 ? turn.queues : [];
  const involved = [...take];
  const indexOf = (queue: string) => {
    let index = involved.indexOf(queue);
    if (index < 0) index = involved.push(queue) - 1;
    return index + 1;
  };
  const args: (string | number)[] = [
    options.count, options.holdMs > 0 ? 1 : 0, token,
    Math.ceil(options.defaultTimeoutMs), Math.ceil(options.leaseMarginMs), Math.ceil(options.holdMs),
    take.length,
  ];
  for (let i = 1; i <= take.length; i += 1) args.push(i);
  const group = (list: readonly Reservation[], withTry: boolean) => {
    args.push(list.length);
    for (const r of list) {
      args.push(indexOf(r.queue), r.handle, r.token);
      // A start carries the try it is: a second run of the script sets the count again, rather than adding one.
      if (withTry) args.push(r.attempts);
    }
  };
  group(turn.acks, false);
  group(turn.starts, true);
  group(turn.giveBacks, false);
  const keys: string[] = [];
  for (const queue of involved) {
    const k = keysOf(queue);
    keys.push(k.ready, k.delayed, k.reserved, k.jobs, k.attempts, k.tokens, k.timeouts, k.notify, k.took(clientId));
  }
  return { keys, args, involved, take, token };
}

/** Reply: now, next due, acked flags, started flags, then 5 values per job taken (queue index, id, payload, try, lease). */
export function decodeTurn(reply: Reply[], encoded: EncodedTurn): DecodedTurn {
  const flags = (value: Reply | undefined) => Array.from(String(value ?? ''), (flag) => flag === '1');
  const held: Reservation[] = [];
  for (let i = 4; i < reply.length; i += 5) {
    const handle = String(reply[i + 1]);
    held.push({
      handle,
      queue: encoded.involved[Number(reply[i]) - 1]!,
      // A list element without a stored payload was pushed by hand: it is its own payload.
      payload: reply[i + 2] === null ? handle : String(reply[i + 2]),
      attempts: Number(reply[i + 3]),
      token: encoded.token,
      leaseExpiresAt: Number(reply[i + 4]),
    });
  }
  return { result: { acked: flags(reply[2]), started: flags(reply[3]), held }, now: Number(reply[0]), nextDue: Number(reply[1]) };
}
