-- stats: counts one queue's jobs and records by the one clock. Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (STATS_KEYS in script-keys.ts)
-- ARGV: none
-- Returns { ready, delayed, reserved, failed, completed, cancelled }: ready counts every priority;
-- due delayed jobs and expired
-- leases count as ready, because the next reserve takes them; completed and cancelled are the
-- records kept of those states.

-- @include now.lua
-- @include queue_keys.lua
-- @include batch.lua
-- @include priority.lua

local QUEUE_KEYS = { 'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'failed', 'completed', 'cancelled' }
local k = queue_keys(QUEUE_KEYS, 1)

local now = now_ms()
local due = redis.call('ZCOUNT', k.delayed, '-inf', now)
local expired = redis.call('ZCOUNT', k.reserved, '-inf', now)
return {
  ready_count(k) + due + expired,
  redis.call('ZCARD', k.delayed) - due,
  redis.call('ZCARD', k.reserved) - expired,
  redis.call('HLEN', k.failed),
  redis.call('ZCARD', k.completed),
  redis.call('ZCARD', k.cancelled),
}
