-- flush: deletes the failed records of one queue older than an age (all of them with 'all').
--
-- KEYS: failed (hash), failed_at (zset), once (string: this call's reply, see once.lua)
-- ARGV: age in ms, or 'all'
-- Returns the number deleted.

-- @include now.lua
-- @include once.lua
-- @include batch.lua

return once(KEYS[3], function()
  local max = ARGV[1] == 'all' and '+inf' or ('(' .. (now_ms() - tonumber(ARGV[1])))
  local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', max)
  batch('HDEL', KEYS[1], ids)
  batch('ZREM', KEYS[2], ids)
  return #ids
end)
