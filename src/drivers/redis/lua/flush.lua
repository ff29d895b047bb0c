-- flush: deletes the failed records of one queue older than an age (all of them with 'all').
--
-- KEYS: failed (hash), failed_at (zset)
-- ARGV: age in ms, or 'all'
-- Returns the number deleted.

-- @include now.lua

local max = ARGV[1] == 'all' and '+inf' or ('(' .. (now_ms() - tonumber(ARGV[1])))
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', max)
for i = 1, #ids, 1000 do
  local chunk = { unpack(ids, i, math.min(i + 999, #ids)) }
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('ZREM', KEYS[2], unpack(chunk))
end
return #ids
