-- fail: stores the failed record, then removes the job. Only the holder of the current lease can.
--
-- KEYS: the keys named in QUEUE_KEYS below (FAIL_KEYS in script-keys.ts)
-- ARGV: job handle, token, record id, fallback record id (used if the first is taken), record JSON,
--       finish channel
-- Returns the record id, or 0 when the lease was taken over (nothing changes).
--
-- The job's id goes out on the finish channel (a waiter hears that it failed). A cancel asked of
-- it while it ran is dropped with it: it failed first. It lets go of its unique key.
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply): when
-- the lease is gone but a record under either id is exactly this one, the first run stored it, and
-- the second returns its id (and publishes nothing).

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua

local QUEUE_KEYS = {
  'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels', 'ranks', 'priorities', 'deadlines', 'unique', 'holds',
  'failed', 'failedAt',
}
local k = queue_keys(QUEUE_KEYS, 1)
local handle, token, record_id, fallback, record, channel = unpack(ARGV, 1, 6)

if redis.call('HGET', k.tokens, handle) ~= token then
  for _, id in ipairs({ record_id, fallback }) do
    if redis.call('HGET', k.failed, id) == record then return id end
  end
  return 0
end
if redis.call('HEXISTS', k.failed, record_id) == 1 then record_id = fallback end
redis.call('HSET', k.failed, record_id, record)
redis.call('ZADD', k.failedAt, now_ms(), record_id)
remove_stored(k, { handle })
redis.call('PUBLISH', channel, cjson.encode({ handle }))
return record_id
