-- flush: deletes the failed records of one queue that failed before a time (all with '+inf').
--
-- KEYS: failed (hash), failed_at (zset)
-- ARGV: before (ms, exclusive) or '+inf'
-- Returns the number deleted.

local max = ARGV[1] == '+inf' and '+inf' or ('(' .. ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', max)
for i = 1, #ids, 1000 do
  local chunk = { unpack(ids, i, math.min(i + 999, #ids)) }
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('ZREM', KEYS[2], unpack(chunk))
end
return #ids
