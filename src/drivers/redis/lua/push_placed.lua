-- push_placed: stores jobs on one or more queues, all or nothing, each with its priority, expiry
-- and unique key (SPEC 12): a push with any unique job (and schedule.lua's). A push of jobs without
-- a unique key goes to push.lua, the fast path, which does not read what is stored first.
--
-- KEYS, per queue, queue after queue: its `ready` key, from which the script names the queue's
--   other keys (queue_keys_from); then, on a single Redis, the set of every queue name (push_queues
--   in queue_keys.lua)
-- ARGV: the queue names, one per queue; then one value per job, in the caller's order:
--   "<queue index>,<delay ms>,<timeout ms or nothing>,<length of options>,<length of id>:<id><options><payload>"
--   (one argument per job rather than six: a bulk of 1,000 costs the client a fifth of the work);
--   options is nothing for a plain job, "<priority>,<expireInMs>," for a job without a unique key,
--   else "<priority>,<expireInMs>,<hold>,<forMs>,<replace>,<key>", StoredJob's, each nothing when
--   absent: hold is s (a unique key held until a try starts) or d (until done), replace is 1 or
--   nothing. Positional text, not JSON (cjson.decode cost a bulk of 1,000 unique jobs 0.5 ms), read
--   in place (cutting the options out of the argument first cost another 0.5 ms)
-- Returns 3 values per job that was not simply stored, none for the others: its number among the
--   jobs (1 first), then 'duplicate' and the id of the job that holds its key (it stored nothing),
--   or 'replaced' and the id of the holder it replaced; queue after queue, each in the caller's order.
--
-- Every argument is checked before the first write: Redis does not roll a script back, so an error
-- half-way through would leave half a bulk behind.
--
-- Unique keys are applied job by job, in order: a job whose key is held (includes/unique.lua) by
-- an earlier job of the same push is its duplicate. With `replace`, a holder that has not started
-- a try (waiting, not held, no try counted) is removed, leaving no record (from the ready list of
-- its priority by an LREM from its tail, where a debounced job usually is), and the new job takes its key. The
-- keys' holders are read in one HMGET and the keys taken written in one HSET per hash, not in three
-- calls per job (those were a third of the script's time on a bulk of 1,000 unique jobs).
--
-- Safe to run twice: ioredis sends a script again when a dropped connection lost its reply, and a
-- job whose id already has a payload is not stored again (a second list entry would run it twice,
-- at the same time): it is reported stored, as the first run did (a job that replaced another is
-- then reported stored without naming it). The same id twice in one push is stored once.

-- @include now.lua
-- @include notify.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua
-- @include priority.lua
-- @include job_options.lua

local queues, names_key = push_queues()
-- A job's options, text[from..to]: nil and its priority (0: none), expiry in ms (false: none) and
-- unique key (false: none), then the key's until_start, for_ms (nil: no limit) and replace; or what
-- is wrong with them.
local function read_options(text, from, to)
  local priority, expire_in, rest = string.match(text, '^([^,]*),([^,]*),()', from)
  -- Too few commas: the match ran on into the payload.
  if not priority or rest > to + 1 then return 'its options are not "<priority>,<expireInMs>,[<hold>,<forMs>,<replace>,<key>]"' end
  local problem
  priority, problem = read_priority(priority)
  if problem then return problem end
  expire_in, problem = read_expiry(expire_in)
  if problem then return problem end
  if rest == to + 1 then return nil, priority, expire_in, false end
  local hold, lasts, replace, key_from = string.match(text, '^([^,]*),([^,]*),([^,]*),()', rest)
  if not hold or key_from > to + 1 then return 'its options are not "<priority>,<expireInMs>,[<hold>,<forMs>,<replace>,<key>]"' end
  -- push-wire.ts sends a `unique` that is not an object as hold '!', and a bad `until` as '?'.
  if hold == '!' then return 'unique must be an object' end
  local key = string.sub(text, key_from, to)
  if #key == 0 or #key > 255 then return 'unique.key must be 1 to 255 bytes' end
  if hold ~= 's' and hold ~= 'd' then return "unique.until must be 'start' or 'done'" end
  local for_ms = whole_ms(lasts)
  if lasts ~= '' and not for_ms then return 'unique.forMs must be a whole number of ms' end
  if replace ~= '' and replace ~= '1' then return 'unique.replace must be true or false' end
  return nil, priority, expire_in, key, hold == 's', for_ms, replace == '1'
end

-- Every job, parsed and checked, kept per queue in the caller's order as lists side by side, not a
-- table per job (with the two option fields of a job without a key and places given as numbers, a
-- bulk of 1,000 priority or unique jobs took a tenth less script time): id, payload, delay (ms),
-- timeout (text, '' for none), n (its number among the jobs), priority (0: none), expiry (false:
-- none), key (false: none), and for a job with a key until_start, for_ms and replace.
local parsed = {}
for q = 1, queues do
  parsed[q] = { count = 0, ids = {}, payloads = {}, delays = {}, timeouts = {}, ns = {}, priorities = {}, expiries = {},
    keys = {}, starts = {}, fors = {}, replaces = {}, any_key = false }
end
for a = queues + 1, #ARGV do
  local n = a - queues
  local text = ARGV[a]
  local q, delay, timeout, options_length, id_length, from = string.match(text, '^(%d+),(%d+),(%d*),(%d+),(%d+):()')
  local p = q and parsed[tonumber(q)]
  if not p then return redis.error_reply('ERR_ARGS bad job ' .. n) end
  local id_end = from + tonumber(id_length) - 1
  local options_end = id_end + tonumber(options_length)
  if id_length == '0' or options_end >= #text then return redis.error_reply('ERR_ARGS empty id or payload') end
  local i = p.count + 1
  p.count = i
  p.ids[i] = string.sub(text, from, id_end)
  p.payloads[i] = string.sub(text, options_end + 1)
  p.delays[i] = tonumber(delay)
  p.timeouts[i] = timeout
  p.ns[i] = n
  if options_length == '0' then
    p.priorities[i], p.expiries[i], p.keys[i] = 0, false, false
  else
    local problem, priority, expire_in, key, until_start, for_ms, replace = read_options(text, id_end + 1, options_end)
    if problem then return redis.error_reply('ERR_ARGS job ' .. n .. ': ' .. problem) end
    p.priorities[i], p.expiries[i], p.keys[i] = priority, expire_in, key
    if key then
      p.starts[i], p.fors[i], p.replaces[i] = until_start, for_ms, replace
      p.any_key = true
    end
  end
end

local now = now_ms()
local reply = {}

-- Decides which of a queue's jobs (`p`, its keys `k`) the push stores: returns id -> the number
-- (in `p`) of the job stored with that id. Not a job whose id already has a payload (this push ran
-- before), nor the same id twice, nor a duplicate of a unique key; a holder this push replaces
-- leaves the map. Adds to `reply`; `held` gets the value in `unique` of each key its jobs take.
local function choose(k, p, held)
  local known = batch('HMGET', k.jobs, p.ids)
  local storing = {}
  if not p.any_key then
    for i = 1, p.count do
      local id = p.ids[i]
      if not known[i] and not storing[id] then storing[id] = i end
    end
    return storing
  end
  -- The value in `unique` of each key the jobs name (false: none), kept up to date as keys are
  -- taken; one HMGET.
  local names = {}
  for i = 1, p.count do if p.keys[i] then names[#names + 1] = p.keys[i] end end
  local values = batch('HMGET', k.unique, names)
  for i, key in ipairs(names) do held[key] = values[i] end

  -- Whether holder `id` has started a try: it is leased (running or held) or has a try counted.
  -- A job this push stores has not.
  local function has_started(id)
    if storing[id] then return false end
    return redis.call('ZSCORE', k.reserved, id) ~= false or (tonumber(redis.call('HGET', k.attempts, id)) or 0) > 0
  end
  local function is_stored(id) return storing[id] or redis.call('HEXISTS', k.jobs, id) == 1 end
  -- Removes waiting job `id`, leaving no record: a unique job's replace.
  local function drop_holder(id)
    if storing[id] then
      storing[id] = nil -- not written yet
      return
    end
    remove_waiting(k, id, true)
    remove_stored(k, { id })
  end

  for i = 1, p.count do
    local id, key = p.ids[i], p.keys[i]
    if not known[i] and not storing[id] then
      local holder = key and held[key] and holder_of(held[key], now, is_stored)
      if holder and not (p.replaces[i] and not has_started(holder)) then
        reply[#reply + 1] = p.ns[i]
        reply[#reply + 1] = 'duplicate'
        reply[#reply + 1] = holder
      else
        if holder then
          drop_holder(holder)
          reply[#reply + 1] = p.ns[i]
          reply[#reply + 1] = 'replaced'
          reply[#reply + 1] = holder
        end
        if key then held[key] = hold_value(id, p.fors[i], now) end
        storing[id] = i
      end
    end
  end
  return storing
end

-- Writes a queue's jobs that `storing` names, in order: field-value and score-member pairs, one
-- command per key. A key taken twice (the first hold lapsed, or its holder replaced) is written
-- with its last value.
local function store(k, p, storing, held)
  local jobs, timeouts, deadlines, unique, holds = {}, {}, {}, {}, {}
  local w, waiting = { delayed = {}, ranks = {}, levels = {} }, 0
  local ids, payloads, delays, priorities, expiries, job_keys = p.ids, p.payloads, p.delays, p.priorities, p.expiries, p.keys
  for i = 1, p.count do
    local id = ids[i]
    if storing[id] == i then
      jobs[#jobs + 1] = id
      jobs[#jobs + 1] = payloads[i]
      local timeout = p.timeouts[i]
      if timeout ~= '' then
        timeouts[#timeouts + 1] = id
        timeouts[#timeouts + 1] = timeout
      end
      local key = job_keys[i]
      if key then
        unique[#unique + 1] = key
        unique[#unique + 1] = held[key]
        holds[#holds + 1] = id
        holds[#holds + 1] = held_key(key, p.starts[i])
      end
      if expiries[i] then
        deadlines[#deadlines + 1] = now + expiries[i]
        deadlines[#deadlines + 1] = id
      end
      waiting = waiting + place_new(w, id, delays[i], priorities[i], now)
    end
  end
  batch('HSET', k.jobs, jobs)
  batch('HSET', k.timeouts, timeouts)
  batch('HSET', k.ranks, w.ranks)
  batch('HSET', k.unique, unique)
  batch('HSET', k.holds, holds)
  batch('ZADD', k.deadlines, deadlines)
  batch('ZADD', k.delayed, w.delayed)
  push_levels(k, w.levels, false)
  notify(k.notify, waiting)
end

if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
for q = 1, queues do
  local k, p, held = queue_keys_from(KEYS[q]), parsed[q], {}
  if p.count > 0 then store(k, p, choose(k, p, held), held) end
end
return reply
