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

local id, token, delay = ARGV[1], ARGV[2], tonumber(ARGV[3])
local current = redis.call('HGET', KEYS[4], id)
if current ~= token then
  local released = not current and not redis.call('ZSCORE', KEYS[3], id) and redis.call('HEXISTS', KEYS[7], id) == 1
  return released and 1 or 0
end
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[6], id, -1) end
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
if delay > 0 then
  redis.call('ZADD', KEYS[2], now_ms() + delay, id)
else
  redis.call('RPUSH', KEYS[1], id)
  notify(KEYS[5], 1)
end
return 1
