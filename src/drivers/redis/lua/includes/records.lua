-- Finished records that are not failures: `done` (id -> record JSON), one zset per finished state
-- (id -> finished at, ms) and `expires` (id -> when the record's keep runs out, ms). Needs batch.lua.

-- Forgets records: from `done`, `expires` and each zset of `zsets`.
local function forget_records(done, expires, zsets, ids)
  if #ids == 0 then return end
  batch('HDEL', done, ids)
  batch('ZREM', expires, ids)
  for _, zset in ipairs(zsets) do batch('ZREM', zset, ids) end
end

-- Keeps a finished state's newest `max` records: forgets at most `limit` of the oldest beyond
-- them. Returns how many it forgot.
local function trim_records(zset, done, expires, max, limit)
  local surplus = math.min(redis.call('ZCARD', zset) - max, limit)
  if surplus <= 0 then return 0 end
  local old = redis.call('ZRANGE', zset, 0, surplus - 1)
  forget_records(done, expires, { zset }, old)
  return #old
end
