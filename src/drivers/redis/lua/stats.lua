-- stats: counts one queue's jobs and records by the one clock. Read-only.
--
-- KEYS: ready (list), delayed, reserved (zsets), failed (hash), completed, cancelled (zsets)
-- ARGV: none
-- Returns { ready, delayed, reserved, failed, completed, cancelled }: due delayed jobs and expired
-- leases count as ready, because the next reserve takes them; completed and cancelled are the
-- records kept of those states.

-- @include now.lua

local ready, delayed, reserved, failed, completed, cancelled = unpack(KEYS, 1, 6)

local now = now_ms()
local due = redis.call('ZCOUNT', delayed, '-inf', now)
local expired = redis.call('ZCOUNT', reserved, '-inf', now)
return {
  redis.call('LLEN', ready) + due + expired,
  redis.call('ZCARD', delayed) - due,
  redis.call('ZCARD', reserved) - expired,
  redis.call('HLEN', failed),
  redis.call('ZCARD', completed),
  redis.call('ZCARD', cancelled),
}
