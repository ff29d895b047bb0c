-- push: stores jobs without a unique key on one or more queues, each with its delay, timeout,
-- priority and expiry, all or nothing: the fast path of dispatch. A push with any unique job goes
-- to push_placed.lua (push-wire.ts picks), which reads what is stored before it writes.
--
-- KEYS, per queue, queue after queue: its `ready` key, from which the script names the queue's
--   other keys (queue_keys_from); then, on a single Redis, the set of every queue name (push_queues
--   in queue_keys.lua)
-- ARGV: the queue names, one per queue; then one value per job:
--   "<queue index>,<delay ms>,<timeout ms or nothing>,<priority or nothing>,<expireInMs or nothing>,<length of id>:<id><payload>"
--   (one argument per job rather than seven: a bulk of 1,000 costs the client a fifth of the work)
-- Returns nothing: every job is stored (or was, by a first run).
--
-- A job of a priority other than 0 goes to the list of its priority (includes/priority.lua), which
-- costs a bulk about what a plain one costs (one more field to read per job, one of `levels` per
-- priority); a delayed one notes its priority in `ranks`, a job with an expiry its deadline.
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
-- @include levels.lua
-- @include job_options.lua

local queues, names_key = push_queues()

local writes = {}
for q = 1, queues do writes[q] = { jobs = {}, timeouts = {}, ready = {}, delayed = {}, deadlines = {}, ranks = {}, levels = {}, waiting = 0 } end
local now = now_ms()
for a = queues + 1, #ARGV do
  local job = ARGV[a]
  local q, delay, timeout, priority, expire_in, id_length, from = string.match(job, '^(%d+),(%d+),(%d*),([^,]*),([^,]*),(%d+):()')
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
  -- A plain job (neither) does not call the readers: calling them for every job cost a plain bulk
  -- 5 to 10% more script time.
  local problem
  if priority == '' then priority = 0 else priority, problem = read_priority(priority) end
  if expire_in ~= '' and not problem then
    expire_in, problem = read_expiry(expire_in)
    if expire_in then
      w.deadlines[#w.deadlines + 1] = now + expire_in
      w.deadlines[#w.deadlines + 1] = id
    end
  end
  if problem then return redis.error_reply('ERR_ARGS job ' .. (a - queues) .. ': ' .. problem) end
  -- A plain job ready now goes straight to `ready`. Through place_new and push_levels (and with
  -- the whole of priority.lua included) a single plain push took a fifth more script time than
  -- before this script took priorities (18.8-19.7 against 15.0-16.2 us); now a tenth (16.8-17.8):
  -- three more keys, and the readers defined on every run.
  if delay == '0' and priority == 0 then
    w.ready[#w.ready + 1] = id
  else
    w.waiting = w.waiting + place_new(w, id, tonumber(delay), priority, now)
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
  w.deadlines, w.ranks = keep(w.deadlines, 1), keep(w.ranks, 0)
  local function kept_ids(ids)
    local kept = {}
    for _, id in ipairs(ids) do if not skip[id] then kept[#kept + 1] = id end end
    return kept
  end
  w.ready, w.waiting = kept_ids(w.ready), 0
  for priority, ids in pairs(w.levels) do
    w.levels[priority] = kept_ids(ids)
    w.waiting = w.waiting + #w.levels[priority]
  end
end

if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
for q, w in ipairs(writes) do
  local k = queue_keys_from(KEYS[q])
  skip_stored(k.jobs, w)
  batch('HSET', k.jobs, w.jobs)
  batch('HSET', k.timeouts, w.timeouts)
  batch('HSET', k.ranks, w.ranks)
  batch('ZADD', k.deadlines, w.deadlines)
  batch('ZADD', k.delayed, w.delayed)
  batch('RPUSH', k.ready, w.ready)
  if next(w.levels) then push_levels(k, w.levels, false) end
  notify(k.notify, #w.ready + w.waiting)
end
return {}
