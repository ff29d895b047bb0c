-- clear: deletes the jobs waiting on one queue: ready (of any priority), delayed, and those whose
-- lease ran out (their worker died). Jobs a worker holds or runs are left to it; failed records
-- stay. The jobs deleted let go of their unique keys.
--
-- KEYS: the keys named in QUEUE_KEYS below (CLEAR_KEYS in script-keys.ts), then once (string:
--       this call's reply, see once.lua)
-- ARGV: none
-- Returns the number of jobs deleted.
--
-- One script, so a worker never takes a job this clear counted: a queue of a million jobs blocks
-- Redis for about a second while it runs.

-- @include now.lua
-- @include once.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua
-- @include levels.lua

local QUEUE_KEYS = {
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'prioritized', 'priorities',
}
local k = queue_keys(QUEUE_KEYS, 1)
local once_key = KEYS[#QUEUE_KEYS + 1]

return once(once_key, function()
  local lists = { k.ready }
  for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do lists[#lists + 1] = level_list(k, priority) end
  local ids = {}
  for _, list in ipairs(lists) do
    for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do ids[#ids + 1] = id end
  end
  for _, zset in ipairs({ k.prioritized, k.delayed }) do
    for _, id in ipairs(redis.call('ZRANGE', zset, 0, -1)) do ids[#ids + 1] = id end
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', k.reserved, '-inf', now_ms())) do ids[#ids + 1] = id end
  redis.call('DEL', k.levels, k.prioritized, k.delayed, unpack(lists))
  remove_stored(k, ids)
  return #ids
end)
