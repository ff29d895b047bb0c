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

return once(KEYS[8], function()
  local n = #ARGV / 4
  for j = 0, n - 1 do
    if redis.call('HEXISTS', KEYS[1], ARGV[j * 4 + 1]) == 0 then
      return redis.error_reply('ERR_NOT_FOUND ' .. ARGV[j * 4 + 1])
    end
  end
  for j = 0, n - 1 do
    local record_id, id, payload, timeout = ARGV[j * 4 + 1], ARGV[j * 4 + 2], ARGV[j * 4 + 3], ARGV[j * 4 + 4]
    redis.call('HDEL', KEYS[1], record_id)
    redis.call('ZREM', KEYS[2], record_id)
    redis.call('HSET', KEYS[4], id, payload)
    redis.call('HDEL', KEYS[5], id)
    if timeout ~= '' then redis.call('HSET', KEYS[6], id, timeout) else redis.call('HDEL', KEYS[6], id) end
    redis.call('RPUSH', KEYS[3], id)
  end
  notify(KEYS[7], n)
  return n
end)
