-- stats: counts one queue's jobs by the one clock. Read-only.
--
-- KEYS: ready (list), delayed, reserved (zsets), failed (hash)
-- ARGV: none
-- Returns { ready, delayed, reserved, failed }: due delayed jobs and expired leases count as ready,
-- because the next reserve takes them.

-- @include now.lua

local ready, delayed, reserved, failed = unpack(KEYS, 1, 4)

local now = now_ms()
local due = redis.call('ZCOUNT', delayed, '-inf', now)
local expired = redis.call('ZCOUNT', reserved, '-inf', now)
return {
  redis.call('LLEN', ready) + due + expired,
  redis.call('ZCARD', delayed) - due,
  redis.call('ZCARD', reserved) - expired,
  redis.call('HLEN', failed),
}
