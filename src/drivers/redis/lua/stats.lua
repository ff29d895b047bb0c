-- stats: counts one queue's jobs by the one clock. Read-only.
--
-- KEYS: ready (list), delayed, reserved (zsets), failed (hash)
-- ARGV: none
-- Returns { ready, delayed, reserved, failed }: due delayed jobs and expired leases count as ready,
-- because the next reserve takes them.

-- @include now.lua

local now = now_ms()
local due = redis.call('ZCOUNT', KEYS[2], '-inf', now)
local expired = redis.call('ZCOUNT', KEYS[3], '-inf', now)
return {
  redis.call('LLEN', KEYS[1]) + due + expired,
  redis.call('ZCARD', KEYS[2]) - due,
  redis.call('ZCARD', KEYS[3]) - expired,
  redis.call('HLEN', KEYS[4]),
}
