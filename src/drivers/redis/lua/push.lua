-- push: stores jobs on one or more queues, all or nothing.
--
-- KEYS, 5 per queue (queue i uses KEYS[5*(i-1)+1 .. 5*i]):
--   ready (list of ids), delayed (zset id -> available at, ms), jobs (hash id -> payload),
--   timeouts (hash id -> timeout ms, only for jobs that declare one), notify (list)
--   then, on a single Redis, the set of every queue name (in a Cluster it lives in another hash
--   slot, so the client adds the names itself)
-- ARGV: the queue names, one per queue; then one value per job:
--   "<queue index>,<delay ms>,<timeout ms or nothing>,<length of id>:<id><payload>"
--   (one argument per job rather than five: a bulk of 1,000 costs the client a fifth of the work)
-- Returns the number of jobs stored.
--
-- Every argument is checked before the first write: Redis does not roll a script back, so an error
-- half-way through would leave half a bulk behind.
--
-- Safe to run twice: ioredis sends a script again when a dropped connection lost its reply, and a
-- job whose id already has a payload is not stored again (a second list entry would run it twice,
-- at the same time).

-- @include now.lua
-- @include notify.lua
-- @include batch.lua

local READY, DELAYED, JOBS, TIMEOUTS, NOTIFY = 1, 2, 3, 4, 5
local function key(q, n) return KEYS[(q - 1) * 5 + n] end
local queues = math.floor(#KEYS / 5)
local names_key = (#KEYS % 5 == 1) and KEYS[#KEYS] or nil

local writes = {}
for q = 1, queues do writes[q] = { jobs = {}, timeouts = {}, ready = {}, delayed = {} } end
local now = now_ms()
for a = queues + 1, #ARGV do
  local job = ARGV[a]
  local q, delay, timeout, id_length, from = string.match(job, '^(%d+),(%d+),(%d*),(%d+):()')
  q = tonumber(q)
  if not q or q < 1 or q > queues then return redis.error_reply('ERR_ARGS bad job ' .. (a - queues)) end
  local id_end = from + tonumber(id_length) - 1
  if id_length == '0' or id_end >= #job then return redis.error_reply('ERR_ARGS empty id or payload') end
  local id = string.sub(job, from, id_end)
  local w = writes[q]
  w.jobs[#w.jobs + 1] = id
  w.jobs[#w.jobs + 1] = string.sub(job, id_end + 1)
  if timeout ~= '' then
    w.timeouts[#w.timeouts + 1] = id
    w.timeouts[#w.timeouts + 1] = timeout
  end
  if delay ~= '0' then
    w.delayed[#w.delayed + 1] = now + tonumber(delay)
    w.delayed[#w.delayed + 1] = id
  else
    w.ready[#w.ready + 1] = id
  end
end

-- Drops from a queue's writes every job whose id already has a payload: this push ran before.
local function skip_stored(jobs_key, w)
  local ids = {}
  for i = 1, #w.jobs, 2 do ids[#ids + 1] = w.jobs[i] end
  local known = batch('HMGET', jobs_key, ids)
  local any = false
  for i = 1, #ids do if known[i] then any = true end end
  if not any then return end
  local skip = {}
  for i, id in ipairs(ids) do if known[i] then skip[id] = true end end
  local function keep(list, id_at)
    local kept = {}
    for i = 1, #list, 2 do
      if not skip[list[i + id_at]] then
        kept[#kept + 1] = list[i]
        kept[#kept + 1] = list[i + 1]
      end
    end
    return kept
  end
  w.jobs, w.timeouts, w.delayed = keep(w.jobs, 0), keep(w.timeouts, 0), keep(w.delayed, 1)
  local ready = {}
  for _, id in ipairs(w.ready) do if not skip[id] then ready[#ready + 1] = id end end
  w.ready = ready
end

local stored = 0
if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
for q, w in ipairs(writes) do
  skip_stored(key(q, JOBS), w)
  stored = stored + #w.jobs / 2
  batch('HSET', key(q, JOBS), w.jobs)
  batch('HSET', key(q, TIMEOUTS), w.timeouts)
  batch('ZADD', key(q, DELAYED), w.delayed)
  batch('RPUSH', key(q, READY), w.ready)
  notify(key(q, NOTIFY), #w.ready)
end
return stored
