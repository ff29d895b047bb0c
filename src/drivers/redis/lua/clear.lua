-- clear: deletes the jobs waiting on one queue: ready, delayed, and those whose lease ran out (their
-- worker died). Jobs a worker holds or runs are left to it; failed records stay.
--
-- KEYS: ready (list), delayed, reserved (zsets), jobs, attempts, tokens, timeouts, started,
--       progress, cancels (hashes), once (string: this call's reply, see once.lua)
-- ARGV: none
-- Returns the number of jobs deleted.
--
-- One script, so a worker never takes a job this clear counted: a queue of a million jobs blocks
-- Redis for about a second while it runs.

-- @include now.lua
-- @include once.lua
-- @include batch.lua

local ready, delayed, reserved, jobs, attempts, tokens, timeouts, started, progress, cancels, once_key = unpack(KEYS, 1, 11)

return once(once_key, function()
  local ids = redis.call('LRANGE', ready, 0, -1)
  for _, id in ipairs(redis.call('ZRANGE', delayed, 0, -1)) do ids[#ids + 1] = id end
  local expired = redis.call('ZRANGEBYSCORE', reserved, '-inf', now_ms())
  redis.call('DEL', ready, delayed)
  batch('ZREM', reserved, expired)
  for _, id in ipairs(expired) do ids[#ids + 1] = id end
  for _, hash in ipairs({ jobs, attempts, tokens, timeouts, started, progress, cancels }) do batch('HDEL', hash, ids) end
  return #ids
end)
