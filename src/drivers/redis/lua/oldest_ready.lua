-- oldest_ready: what tells when the job waiting longest among those next in line on one queue
-- became ready (SPEC 15). Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (OLDEST_READY_KEYS in script-keys.ts)
-- ARGV: none
-- Returns { head, first, due, lapsed }: the payloads of the job at the front of `ready` and of the
--   first in `prioritized` (the client reads when each became ready from its envelope); the
--   earliest time a delayed job came due, and the earliest end of a lease that has run out (false
--   for none of each).
--
-- A due delayed job and one whose lease ran out are ready, though they wait in `delayed` and
-- `reserved` until the next take moves them (as stats.lua counts them): when no worker takes, they
-- are the jobs that wait longest, and their scores say exactly since when.

-- @include now.lua
-- @include queue_keys.lua

local QUEUE_KEYS = { 'ready', 'prioritized', 'delayed', 'reserved', 'jobs' }
local k = queue_keys(QUEUE_KEYS, 1)

local function payload(id)
  return id and redis.call('HGET', k.jobs, id)
end

-- The score of the first member of `zset` whose score has passed, or false.
local function first_passed(zset, now)
  return redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)[2] or false
end

local now = now_ms()
return {
  payload(redis.call('LINDEX', k.ready, 0)),
  payload(redis.call('ZRANGE', k.prioritized, 0, 0)[1] or false),
  first_passed(k.delayed, now),
  first_passed(k.reserved, now),
}
