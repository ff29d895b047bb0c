-- fail: stores the failed record, then removes the job. Only the holder of the current lease can.
--
-- KEYS: reserved (zset), jobs, attempts, tokens, timeouts (hashes),
--       failed (hash record id -> record JSON), failed_at (zset record id -> failed at, ms)
-- ARGV: job handle, token, record id, fallback record id (used if the first is taken), record JSON
-- Returns the record id, or 0 when the lease was taken over (nothing changes).
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply): when
-- the lease is gone but a record under either id is exactly this one, the first run stored it, and
-- the second returns its id.

-- @include now.lua

local handle, token, record_id, fallback, record = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', KEYS[4], handle) ~= token then
  for _, id in ipairs({ record_id, fallback }) do
    if redis.call('HGET', KEYS[6], id) == record then return id end
  end
  return 0
end
if redis.call('HEXISTS', KEYS[6], record_id) == 1 then record_id = fallback end
redis.call('HSET', KEYS[6], record_id, record)
redis.call('ZADD', KEYS[7], now_ms(), record_id)
redis.call('ZREM', KEYS[1], handle)
for i = 2, 5 do redis.call('HDEL', KEYS[i], handle) end
return record_id
