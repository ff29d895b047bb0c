-- retry: moves failed jobs back onto their queue with fresh tries, all or nothing.
--
-- KEYS: the keys named in QUEUE_KEYS below (RETRY_KEYS in script-keys.ts), then once (string:
--       this call's reply, see once.lua)
-- ARGV: per job, 5 values: record id, job id, payload (with attempts reset), timeout ms ('' for
--       none), priority ('' for 0: the envelope's own, see RedisFailedStore)
-- Returns the number moved, or the error ERR_NOT_FOUND <record id> (nothing moved).
--
-- The client prepares each payload from the record it read; records are never modified, only
-- deleted, so checking here that every one still exists makes the read-then-move safe. A job
-- goes back behind those of its priority waiting now (includes/priority.lua); it has no expiry and
-- holds no unique key any more.

-- @include notify.lua
-- @include once.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include levels.lua

local QUEUE_KEYS = { 'failed', 'failedAt', 'ready', 'levels', 'jobs', 'attempts', 'timeouts', 'notify' }
local k = queue_keys(QUEUE_KEYS, 1)
local once_key = KEYS[#QUEUE_KEYS + 1]
local WIDTH = 5

return once(once_key, function()
  local n = #ARGV / WIDTH
  for j = 0, n - 1 do
    local record_id, priority = ARGV[j * WIDTH + 1], ARGV[j * WIDTH + 5]
    if redis.call('HEXISTS', k.failed, record_id) == 0 then return redis.error_reply('ERR_NOT_FOUND ' .. record_id) end
    if priority ~= '' and not (tonumber(priority) and math.abs(tonumber(priority)) <= PRIORITY_LIMIT) then
      return redis.error_reply('ERR_ARGS bad priority ' .. priority)
    end
  end
  local levels = {}
  for j = 0, n - 1 do
    local record_id, id, payload, timeout, priority = unpack(ARGV, j * WIDTH + 1, j * WIDTH + WIDTH)
    redis.call('HDEL', k.failed, record_id)
    redis.call('ZREM', k.failedAt, record_id)
    redis.call('HSET', k.jobs, id, payload)
    redis.call('HDEL', k.attempts, id)
    if timeout ~= '' then redis.call('HSET', k.timeouts, id, timeout) else redis.call('HDEL', k.timeouts, id) end
    add_to_level(levels, priority == '' and 0 or math.floor(tonumber(priority)), id)
  end
  push_levels(k, levels, false)
  notify(k.notify, n)
  return n
end)
