-- oldest_ready: what tells when the job waiting longest among those next in line on one queue
-- became ready (SPEC 15). Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (OLDEST_READY_KEYS in script-keys.ts)
-- ARGV: none
-- Returns { due, lapsed, id1, payload1, id2, payload2, ... }: the earliest time a delayed job came
--   due, and the earliest end of a lease that has run out (false for none of each); then the id and
--   stored payload of the job at the front of each ready list, one per priority (the client reads
--   when each became ready from its envelope), and of the first in `prioritized` (a release before
--   this one, includes/priority.lua); false for an empty list, and a payload false for a job
--   pushed by hand.
--
-- A due delayed job and one whose lease ran out are ready, though they wait in `delayed` and
-- `reserved` until the next take moves them (as stats.lua counts them): when no worker takes, they
-- are the jobs that wait longest, and their scores say exactly since when.

-- @include now.lua
-- @include queue_keys.lua
-- @include batch.lua
-- @include levels.lua

local QUEUE_KEYS = { 'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'jobs' }
local k = queue_keys(QUEUE_KEYS, 1)

local reply

local function add_head(id)
  reply[#reply + 1] = id
  reply[#reply + 1] = id and redis.call('HGET', k.jobs, id)
end

-- The score of the first member of `zset` whose score has passed, or false.
local function first_passed(zset, now)
  return redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)[2] or false
end

local now = now_ms()
reply = { first_passed(k.delayed, now), first_passed(k.reserved, now) }
add_head(redis.call('LINDEX', k.ready, 0))
for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do
  add_head(redis.call('LINDEX', level_list(k, priority), 0))
end
add_head(redis.call('ZRANGE', k.prioritized, 0, 0)[1] or false)
return reply
