-- prune: forgets one queue's finished records (not failures) whose keep has run out, then those
-- beyond the newest `max` of each finished state. Never a stored job, never a failed record.
--
-- KEYS: done (hash), expires, completed, cancelled, expired (zsets)
-- ARGV: most records kept per state, most records to forget in this run
-- Returns how many it forgot; when that is the whole allowance, more may be left for another run
-- (so one prune of a million records never blocks Redis for long).
--
-- Safe to run twice: a second run finds nothing more to forget (but what ran out in between).

-- @include now.lua
-- @include batch.lua
-- @include records.lua

local done, expires, completed, cancelled, expired = unpack(KEYS, 1, 5)
local max, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local states = { completed, cancelled, expired }

local ran_out = redis.call('ZRANGEBYSCORE', expires, '-inf', now_ms(), 'LIMIT', 0, limit)
forget_records(done, expires, states, ran_out)
local forgotten = #ran_out
for _, zset in ipairs(states) do
  forgotten = forgotten + trim_records(zset, done, expires, max, limit - forgotten)
end
return forgotten
