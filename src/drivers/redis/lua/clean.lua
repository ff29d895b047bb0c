-- clean: deletes one queue's records of one finished state, those that finished more than an age
-- ago (all of them with 'all'). Never a stored job: only records are read.
--
-- KEYS: records (hash id -> record: `done`, or `failed` for failures), finished (zset id ->
--       finished at, ms: the state's zset, or `failed_at`), once (string: this run's reply, see
--       once.lua), then for the states in `done` only: expires (zset)
-- ARGV: age in ms, or 'all'; most records to delete in this run
-- Returns how many it deleted; when that is the whole allowance, more may be left for another run
-- (so cleaning a million records never blocks Redis for long).
--
-- `done` holds every finished state but failures: only the ids of the state's zset are deleted
-- from it, so the records of the other states stay.

-- @include now.lua
-- @include once.lua
-- @include batch.lua

local records, finished, once_key, expires = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local age, limit = ARGV[1], tonumber(ARGV[2])

return once(once_key, function()
  local before = age == 'all' and '+inf' or ('(' .. (now_ms() - tonumber(age)))
  local ids = redis.call('ZRANGEBYSCORE', finished, '-inf', before, 'LIMIT', 0, limit)
  batch('HDEL', records, ids)
  batch('ZREM', finished, ids)
  if expires then batch('ZREM', expires, ids) end
  return #ids
end)
