-- release: puts a reserved job back, available again after `delay` ms.
--
-- KEYS: the keys named in QUEUE_KEYS below (RELEASE_KEYS in script-keys.ts)
-- ARGV: id, token, delay ms, refund (1: this reservation does not count as a try)
-- Returns 1, or 0 when the lease was taken over (nothing changes).
--
-- Released at once, a job goes to the back of the ready list of its priority (includes/priority.lua).
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply): a job
-- with no token that is not reserved but still stored was put back already, so a second run
-- returns 1 and changes nothing (it refunds no second try).

-- @include now.lua
-- @include notify.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include priority.lua

local QUEUE_KEYS = { 'ready', 'levels', 'delayed', 'reserved', 'notify', 'jobs', 'attempts', 'tokens', 'ranks', 'priorities' }
local k = queue_keys(QUEUE_KEYS, 1)
local id, token, delay, refund = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'

local current = redis.call('HGET', k.tokens, id)
if current ~= token then
  local released = not current and not redis.call('ZSCORE', k.reserved, id) and redis.call('HEXISTS', k.jobs, id) == 1
  return released and 1 or 0
end
if refund then redis.call('HINCRBY', k.attempts, id, -1) end
redis.call('ZREM', k.reserved, id)
redis.call('HDEL', k.tokens, id)
if delay > 0 then
  redis.call('ZADD', k.delayed, now_ms() + delay, id)
else
  make_ready(k, { id }, false)
  notify(k.notify, 1)
end
return 1
