/**
 * Which of a queue's keys each script takes, in order. A script declares the same list (its
 * QUEUE_KEYS) and reads the keys back by name (lua/includes/queue_keys.lua); a key named per call
 * (`took`, `once`) or outside any queue goes after them, as the script's header says. A list
 * changed here and not in its script (or the other way round) fails every contract test. The
 * scripts of the hot paths (the pushes, turn.lua) take one key a queue instead, its `ready` key, and
 * name the others from it (queue_keys_from).
 */
import type { QueueKeyName } from './keys.ts';

export const RELEASE_KEYS = [
  'ready', 'levels', 'delayed', 'reserved', 'notify', 'jobs', 'attempts', 'tokens', 'ranks', 'priorities',
] as const satisfies readonly QueueKeyName[];

export const FAIL_KEYS = [
  'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels', 'ranks', 'priorities', 'deadlines', 'unique', 'holds',
  'failed', 'failedAt',
] as const satisfies readonly QueueKeyName[];

export const CANCEL_RUNNING_KEYS = [
  'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels', 'ranks', 'priorities', 'deadlines', 'unique', 'holds',
  'done', 'cancelled', 'expires',
] as const satisfies readonly QueueKeyName[];

/** cancel.lua, then the call's `once` key. */
export const CANCEL_KEYS = [
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'done', 'cancelled', 'expires', 'failed', 'prioritized', 'priorities',
] as const satisfies readonly QueueKeyName[];

/** clear.lua, then the call's `once` key. */
export const CLEAR_KEYS = [
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'prioritized', 'priorities',
] as const satisfies readonly QueueKeyName[];

export const EXPIRE_KEYS = [
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'done', 'expired', 'expires', 'prioritized', 'priorities',
] as const satisfies readonly QueueKeyName[];

/** find.lua and list.lua. */
export const RECORD_KEYS = [
  'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'jobs', 'attempts', 'started', 'progress', 'done', 'failed', 'failedAt',
  'completed', 'cancelled', 'expired',
] as const satisfies readonly QueueKeyName[];

/** retry.lua, then the call's `once` key. */
export const RETRY_KEYS = [
  'failed', 'failedAt', 'ready', 'levels', 'jobs', 'attempts', 'timeouts', 'notify',
] as const satisfies readonly QueueKeyName[];

export const STATS_KEYS = [
  'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'failed', 'completed', 'cancelled',
] as const satisfies readonly QueueKeyName[];

/** oldest_ready.lua. */
export const OLDEST_READY_KEYS = ['ready', 'levels', 'prioritized', 'delayed', 'reserved', 'jobs'] as const satisfies readonly QueueKeyName[];
