-- oldest_ready: what tells when the job waiting longest among those next in line on one queue
-- became ready (SPEC 15). Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (OLDEST_READY_KEYS in script-keys.ts)
-- ARGV: none
-- Returns { due, lapsed, head... }: the earliest time a delayed job came due, and the earliest end
--   of a lease that has run out (false for none of each); then the payloads of the jobs at the
--   front of each ready list, one per priority (the client reads when each became ready from its
--   envelope), and of the first in `prioritized` (a release before this one, includes/priority.lua).
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

local function payload(id)
  return id and redis.call('HGET', k.jobs, id)
end

-- The score of the first member of `zset` whose score has passed, or false.
local function first_passed(zset, now)
  return redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)[2] or false
end

local now = now_ms()
local reply = { first_passed(k.delayed, now), first_passed(k.reserved, now), payload(redis.call('LINDEX', k.ready, 0)) }
for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do
  reply[#reply + 1] = payload(redis.call('LINDEX', level_list(k, priority), 0))
end
reply[#reply + 1] = payload(redis.call('ZRANGE', k.prioritized, 0, 0)[1] or false)
return reply
