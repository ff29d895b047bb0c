-- release: puts a reserved job back, available again after `delay` ms.
--
-- KEYS: ready (list), delayed (zset), reserved (zset), tokens (hash), notify (list), attempts, jobs (hashes)
-- ARGV: id, token, delay ms, refund (1: this reservation does not count as a try)
-- Returns 1, or 0 when the lease was taken over (nothing changes).
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply): a job
-- with no token that is not reserved but still stored was put back already, so a second run
-- returns 1 and changes nothing (it refunds no second try).

-- @include now.lua
-- @include notify.lua

local ready, delayed, reserved, tokens, notify_key, attempts, jobs = unpack(KEYS, 1, 7)
local id, token, delay, refund = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'

local current = redis.call('HGET', tokens, id)
if current ~= token then
  local released = not current and not redis.call('ZSCORE', reserved, id) and redis.call('HEXISTS', jobs, id) == 1
  return released and 1 or 0
end
if refund then redis.call('HINCRBY', attempts, id, -1) end
redis.call('ZREM', reserved, id)
redis.call('HDEL', tokens, id)
if delay > 0 then
  redis.call('ZADD', delayed, now_ms() + delay, id)
else
  redis.call('RPUSH', ready, id)
  notify(notify_key, 1)
end
return 1
