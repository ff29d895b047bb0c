-- push: stores jobs on one or more queues, all or nothing.
--
-- KEYS, 5 per queue (queue i uses KEYS[5*(i-1)+1 .. 5*i]):
--   ready (list of ids), delayed (zset id -> available at, ms), jobs (hash id -> payload),
--   timeouts (hash id -> timeout ms, only for jobs that declare one), notify (list)
--   then, on a single Redis, the set of every queue name (in a Cluster it lives in another hash
--   slot, so the client adds the names itself)
-- ARGV: the queue names, one per queue; then per job, 5 values: queue index (1-based), id,
--   payload, delay ms, timeout ms ('' for none)
-- Returns the number of jobs stored.
--
-- Every argument is checked before the first write: Redis does not roll a script back, so an error
-- half-way through would leave half a bulk behind.

-- @include now.lua
-- @include notify.lua

local queues = math.floor(#KEYS / 5)
local names_key = (#KEYS % 5 == 1) and KEYS[#KEYS] or nil
local n = (#ARGV - queues) / 5
if n ~= math.floor(n) then return redis.error_reply('ERR_ARGS push takes the queue names, then 5 arguments per job') end
-- Job j's values are ARGV[a(j) .. a(j) + 4].
local function a(j) return queues + j * 5 + 1 end
for j = 0, n - 1 do
  local q = tonumber(ARGV[a(j)])
  local delay = tonumber(ARGV[a(j) + 3])
  local timeout = ARGV[a(j) + 4]
  if not q or q < 1 or q > queues then return redis.error_reply('ERR_ARGS bad queue index') end
  if ARGV[a(j) + 1] == '' or ARGV[a(j) + 2] == '' then return redis.error_reply('ERR_ARGS empty id or payload') end
  if not delay or delay < 0 then return redis.error_reply('ERR_ARGS bad delay') end
  if timeout ~= '' and not tonumber(timeout) then return redis.error_reply('ERR_ARGS bad timeout') end
end

-- Each command takes many jobs at once (a bulk of 1,000 is four calls, not two thousand), in
-- chunks that stay under Lua's limit on unpack().
local function each_chunk(command, key, list)
  for i = 1, #list, 4000 do redis.call(command, key, unpack(list, i, math.min(i + 3999, #list))) end
end

local now = now_ms()
if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
local writes = {}
for q = 1, queues do writes[q] = { jobs = {}, timeouts = {}, ready = {}, delayed = {} } end
for j = 0, n - 1 do
  local w = writes[tonumber(ARGV[a(j)])]
  local id, payload, delay, timeout = ARGV[a(j) + 1], ARGV[a(j) + 2], tonumber(ARGV[a(j) + 3]), ARGV[a(j) + 4]
  w.jobs[#w.jobs + 1] = id
  w.jobs[#w.jobs + 1] = payload
  if timeout ~= '' then
    w.timeouts[#w.timeouts + 1] = id
    w.timeouts[#w.timeouts + 1] = timeout
  end
  if delay > 0 then
    w.delayed[#w.delayed + 1] = now + delay
    w.delayed[#w.delayed + 1] = id
  else
    w.ready[#w.ready + 1] = id
  end
end
for q, w in ipairs(writes) do
  local base = (q - 1) * 5
  each_chunk('HSET', KEYS[base + 3], w.jobs)
  each_chunk('HSET', KEYS[base + 4], w.timeouts)
  each_chunk('ZADD', KEYS[base + 2], w.delayed)
  each_chunk('RPUSH', KEYS[base + 1], w.ready)
  notify(KEYS[base + 5], #w.ready)
end
return n
