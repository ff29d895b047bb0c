-- push: stores plain jobs (priority 0, no expiry, no unique key) on one or more queues, all or
-- nothing: the fast path of dispatch, as it was before priorities. A push with any other job goes
-- to push_placed.lua (push-wire.ts picks), which a plain one-at-a-time dispatch would pay a third
-- of its script time for (19 against 30 us).
--
-- KEYS, per queue, queue after queue: the keys named in QUEUE_KEYS below (PLAIN_PUSH_KEYS in
--   script-keys.ts); then, on a single Redis, the set of every queue name (in a Cluster it lives in
--   another hash slot, so the client adds the names itself)
-- ARGV: the queue names, one per queue; then one value per job:
--   "<queue index>,<delay ms>,<timeout ms or nothing>,<length of id>:<id><payload>"
--   (one argument per job rather than five: a bulk of 1,000 costs the client a fifth of the work)
-- Returns nothing: every job is stored (or was, by a first run).
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
-- @include queue_keys.lua

local QUEUE_KEYS = { 'ready', 'delayed', 'jobs', 'timeouts', 'notify' }
local queues = math.floor(#KEYS / #QUEUE_KEYS)
local names_key = (#KEYS % #QUEUE_KEYS == 1) and KEYS[#KEYS] or nil

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

if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
for q, w in ipairs(writes) do
  local k = queue_keys(QUEUE_KEYS, q)
  skip_stored(k.jobs, w)
  batch('HSET', k.jobs, w.jobs)
  batch('HSET', k.timeouts, w.timeouts)
  batch('ZADD', k.delayed, w.delayed)
  batch('RPUSH', k.ready, w.ready)
  notify(k.notify, #w.ready)
end
return {}
