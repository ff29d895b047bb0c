-- list: a page of one queue's records in one state, newest first. Read-only.
--
-- KEYS: ready (list), delayed, reserved (zsets), jobs, attempts, started, done, failed (hashes),
--       failed_at, completed, cancelled, expired (zsets), progress (hash); the same as find.lua's
-- ARGV: state, how many to skip, how many to return
-- Returns 7 values per record (see includes/record.lua).
--
-- Newest first: ready jobs from the tail of the ready list (the last pushed), delayed ones by
-- their time and reserved ones by their lease (latest first), finished records by when they
-- finished. Delayed jobs past their time and expired leases are in neither state's page until the
-- next take moves them to the ready list (find calls them ready).

-- @include now.lua
-- @include batch.lua
-- @include record.lua

local ready, delayed, reserved = KEYS[1], KEYS[2], KEYS[3]
local k = { jobs = KEYS[4], attempts = KEYS[5], started = KEYS[6], progress = KEYS[13] }
local done, failed, failed_at = KEYS[7], KEYS[8], KEYS[9]
local finished = { completed = KEYS[10], cancelled = KEYS[11], expired = KEYS[12] }
local state, skip, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

-- The members and scores of a WITHSCORES reply, apart.
local function split(scored)
  local ids, scores = {}, {}
  for i = 1, #scored, 2 do
    ids[#ids + 1] = scored[i]
    scores[#scores + 1] = tonumber(scored[i + 1])
  end
  return ids, scores
end

local reply = {}
if count < 1 then return reply end
if state == 'ready' then
  local oldest_first = redis.call('LRANGE', ready, -(skip + count), -(skip + 1))
  local ids = {}
  for i = #oldest_first, 1, -1 do ids[#ids + 1] = oldest_first[i] end
  append_waiting(reply, k, ids, 'ready', {})
elseif state == 'delayed' or state == 'reserved' then
  local zset = state == 'delayed' and delayed or reserved
  local ids, ats = split(redis.call('ZREVRANGEBYSCORE', zset, '+inf', '(' .. now_ms(), 'WITHSCORES', 'LIMIT', skip, count))
  append_waiting(reply, k, ids, state, ats)
elseif finished[state] then
  local ids = redis.call('ZREVRANGE', finished[state], skip, skip + count - 1)
  append_finished(reply, done, ids, 'done', {})
elseif state == 'failed' then
  local ids, ats = split(redis.call('ZREVRANGE', failed_at, skip, skip + count - 1, 'WITHSCORES'))
  append_finished(reply, failed, ids, 'failed', ats)
end
return reply
