-- flush: deletes the failed records of one queue older than an age (all of them with 'all').
--
-- KEYS: failed (hash), failed_at (zset), once (string: this call's reply, see once.lua)
-- ARGV: age in ms, or 'all'
-- Returns the number deleted.

-- @include now.lua
-- @include once.lua
-- @include batch.lua

local failed, failed_at, once_key = unpack(KEYS, 1, 3)
local age = ARGV[1]

return once(once_key, function()
  local max = age == 'all' and '+inf' or ('(' .. (now_ms() - tonumber(age)))
  local ids = redis.call('ZRANGEBYSCORE', failed_at, '-inf', max)
  batch('HDEL', failed, ids)
  batch('ZREM', failed_at, ids)
  return #ids
end)
