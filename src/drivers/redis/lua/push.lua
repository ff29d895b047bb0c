-- push: stores jobs on one or more queues, all or nothing.
--
-- KEYS, 5 per queue (queue i uses KEYS[5*(i-1)+1 .. 5*i]):
--   ready (list of ids), delayed (zset id -> available at, ms), jobs (hash id -> payload),
--   timeouts (hash id -> timeout ms, only for jobs that declare one), notify (list)
-- ARGV: per job, 5 values: queue index (1-based), id, payload, delay ms, timeout ms ('' for none)
-- Returns the number of jobs stored.
--
-- Every argument is checked before the first write: Redis does not roll a script back, so an error
-- half-way through would leave half a bulk behind.

-- @include now.lua
-- @include notify.lua

local queues = #KEYS / 5
local n = #ARGV / 5
if n ~= math.floor(n) then return redis.error_reply('ERR_ARGS push takes 5 arguments per job') end
for j = 0, n - 1 do
  local q = tonumber(ARGV[j * 5 + 1])
  local delay = tonumber(ARGV[j * 5 + 4])
  local timeout = ARGV[j * 5 + 5]
  if not q or q < 1 or q > queues then return redis.error_reply('ERR_ARGS bad queue index') end
  if ARGV[j * 5 + 2] == '' or ARGV[j * 5 + 3] == '' then return redis.error_reply('ERR_ARGS empty id or payload') end
  if not delay or delay < 0 then return redis.error_reply('ERR_ARGS bad delay') end
  if timeout ~= '' and not tonumber(timeout) then return redis.error_reply('ERR_ARGS bad timeout') end
end

local now = now_ms()
local woken = {}
for j = 0, n - 1 do
  local base = (tonumber(ARGV[j * 5 + 1]) - 1) * 5
  local id, payload, delay, timeout = ARGV[j * 5 + 2], ARGV[j * 5 + 3], tonumber(ARGV[j * 5 + 4]), ARGV[j * 5 + 5]
  redis.call('HSET', KEYS[base + 3], id, payload)
  if timeout ~= '' then redis.call('HSET', KEYS[base + 4], id, timeout) end
  if delay > 0 then
    redis.call('ZADD', KEYS[base + 2], now + delay, id)
  else
    redis.call('RPUSH', KEYS[base + 1], id)
    woken[base] = (woken[base] or 0) + 1
  end
end
for base, count in pairs(woken) do notify(KEYS[base + 5], count) end
return n
