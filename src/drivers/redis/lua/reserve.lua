-- reserve: leases up to `count` jobs of one queue to the caller.
--
-- KEYS: ready (list), delayed (zset), reserved (zset id -> lease expiry, ms), jobs (hash),
--       attempts (hash id -> reservations so far), tokens (hash id -> lease token), timeouts (hash)
-- ARGV: count, token, default timeout ms, lease margin ms
-- Returns { now, next, id1, payload1, attempts1, lease1, id2, ... }: `now` is the Redis clock and
-- `next` the earliest time (ms) a delayed job or a lease comes due (-1: none), so an idle worker
-- knows how long it may block.
-- A list element with no payload in `jobs` was pushed by hand: it is returned as its own payload
-- (false in the reply stands for "none") and the worker decides what it is.
--
-- Due delayed jobs and expired leases move back to the ready list first, in this same script, so
-- there is no separate reaper to race with.

-- @include now.lua

local ready, delayed, reserved, jobs, attempts, tokens, timeouts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local count, token, default_timeout, margin = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  redis.call('ZREM', delayed, unpack(due))
  redis.call('RPUSH', ready, unpack(due))
end
local expired = redis.call('ZRANGEBYSCORE', reserved, '-inf', now, 'LIMIT', 0, 1000)
if #expired > 0 then
  redis.call('ZREM', reserved, unpack(expired))
  redis.call('HDEL', tokens, unpack(expired))
  redis.call('RPUSH', ready, unpack(expired))
end

local reply = { now, -1 }
local ids = redis.call('LPOP', ready, count)
if ids then
  for _, id in ipairs(ids) do
    local tries = redis.call('HINCRBY', attempts, id, 1)
    local timeout = tonumber(redis.call('HGET', timeouts, id)) or default_timeout
    local lease = now + timeout + margin
    redis.call('HSET', tokens, id, token)
    redis.call('ZADD', reserved, lease, id)
    local payload = redis.call('HGET', jobs, id)
    reply[#reply + 1] = id
    reply[#reply + 1] = payload
    reply[#reply + 1] = tries
    reply[#reply + 1] = lease
  end
end

local first_delayed = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local first_lease = redis.call('ZRANGE', reserved, 0, 0, 'WITHSCORES')
local next_due = -1
if first_delayed[2] then next_due = tonumber(first_delayed[2]) end
if first_lease[2] and (next_due == -1 or tonumber(first_lease[2]) < next_due) then next_due = tonumber(first_lease[2]) end
reply[2] = next_due
return reply
