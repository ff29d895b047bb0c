-- fail: stores the failed record, then removes the job. Only the holder of the current lease can.
--
-- KEYS: reserved (zset), jobs, attempts, tokens, timeouts (hashes),
--       failed (hash record id -> record JSON), failed_at (zset record id -> failed at, ms),
--       started, progress, cancels (hashes)
-- ARGV: job handle, token, record id, fallback record id (used if the first is taken), record JSON,
--       finish channel
-- Returns the record id, or 0 when the lease was taken over (nothing changes).
--
-- The job's id goes out on the finish channel (a waiter hears that it failed). A cancel asked of
-- it while it ran is dropped with it: it failed first.
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply): when
-- the lease is gone but a record under either id is exactly this one, the first run stored it, and
-- the second returns its id (and publishes nothing).

-- @include now.lua

local reserved, jobs, attempts, tokens, timeouts, failed, failed_at, started, progress, cancels = unpack(KEYS, 1, 10)
local handle, token, record_id, fallback, record, channel = unpack(ARGV, 1, 6)

if redis.call('HGET', tokens, handle) ~= token then
  for _, id in ipairs({ record_id, fallback }) do
    if redis.call('HGET', failed, id) == record then return id end
  end
  return 0
end
if redis.call('HEXISTS', failed, record_id) == 1 then record_id = fallback end
redis.call('HSET', failed, record_id, record)
redis.call('ZADD', failed_at, now_ms(), record_id)
redis.call('ZREM', reserved, handle)
for _, hash in ipairs({ jobs, attempts, tokens, timeouts, started, progress, cancels }) do redis.call('HDEL', hash, handle) end
redis.call('PUBLISH', channel, cjson.encode({ handle }))
return record_id
