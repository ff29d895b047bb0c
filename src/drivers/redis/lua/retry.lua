-- retry: moves failed jobs back onto their queue with fresh tries, all or nothing.
--
-- KEYS: failed (hash), failed_at (zset), ready (list), jobs, attempts, timeouts (hashes), notify (list),
--       once (string: this call's reply, see once.lua)
-- ARGV: per job, 4 values: record id, job id, payload (with attempts reset), timeout ms ('' for none)
-- Returns the number moved, or the error ERR_NOT_FOUND <record id> (nothing moved).
--
-- The client prepares each payload from the record it read; records are never modified, only
-- deleted, so checking here that every one still exists makes the read-then-move safe.

-- @include notify.lua
-- @include once.lua

local failed, failed_at, ready, jobs, attempts, timeouts, notify_key, once_key = unpack(KEYS, 1, 8)

return once(once_key, function()
  local n = #ARGV / 4
  for j = 0, n - 1 do
    if redis.call('HEXISTS', failed, ARGV[j * 4 + 1]) == 0 then
      return redis.error_reply('ERR_NOT_FOUND ' .. ARGV[j * 4 + 1])
    end
  end
  for j = 0, n - 1 do
    local record_id, id, payload, timeout = unpack(ARGV, j * 4 + 1, j * 4 + 4)
    redis.call('HDEL', failed, record_id)
    redis.call('ZREM', failed_at, record_id)
    redis.call('HSET', jobs, id, payload)
    redis.call('HDEL', attempts, id)
    if timeout ~= '' then redis.call('HSET', timeouts, id, timeout) else redis.call('HDEL', timeouts, id) end
    redis.call('RPUSH', ready, id)
  end
  notify(notify_key, n)
  return n
end)
