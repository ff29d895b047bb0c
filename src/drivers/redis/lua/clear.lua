-- clear: deletes the jobs waiting on one queue: ready, delayed, and those whose lease ran out (their
-- worker died). Jobs a worker holds or runs are left to it; failed records stay.
--
-- KEYS: ready (list), delayed, reserved (zsets), jobs, attempts, tokens, timeouts (hashes),
--       once (string: this call's reply, see once.lua)
-- ARGV: none
-- Returns the number of jobs deleted.
--
-- One script, so a worker never takes a job this clear counted: a queue of a million jobs blocks
-- Redis for about a second while it runs.

-- @include now.lua
-- @include once.lua
-- @include batch.lua

return once(KEYS[8], function()
  local ids = redis.call('LRANGE', KEYS[1], 0, -1)
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do ids[#ids + 1] = id end
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms())
  redis.call('DEL', KEYS[1], KEYS[2])
  batch('ZREM', KEYS[3], expired)
  for _, id in ipairs(expired) do ids[#ids + 1] = id end
  for k = 4, 7 do batch('HDEL', KEYS[k], ids) end
  return #ids
end)
