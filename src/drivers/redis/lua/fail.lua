-- fail: stores the failed record, then removes the job. Only the holder of the current lease can.
--
-- KEYS: reserved (zset), jobs, attempts, tokens, timeouts (hashes),
--       failed (hash record id -> record JSON), failed_at (zset record id -> failed at, ms)
-- ARGV: job handle, token, record id, fallback record id (used if the first is taken), record JSON
-- Returns the record id, or 0 when the lease was taken over (nothing changes).

-- @include now.lua

local handle, token, record_id = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[4], handle) ~= token then return 0 end
if redis.call('HEXISTS', KEYS[6], record_id) == 1 then record_id = ARGV[4] end
redis.call('HSET', KEYS[6], record_id, ARGV[5])
redis.call('ZADD', KEYS[7], now_ms(), record_id)
redis.call('ZREM', KEYS[1], handle)
for i = 2, 5 do redis.call('HDEL', KEYS[i], handle) end
return record_id
