-- push_placed: stores jobs on one or more queues, all or nothing, each with its priority, expiry
-- and unique key (SPEC 12). A push of plain jobs only goes to push.lua, the fast path.
--
-- KEYS, per queue, queue after queue: the keys named in QUEUE_KEYS below (PUSH_KEYS in
--   script-keys.ts); then, on a single Redis, the set of every queue name (in a Cluster it lives
--   in another hash slot, so the client adds the names itself)
-- ARGV: the queue names, one per queue; then one value per job, in the caller's order:
--   "<queue index>,<delay ms>,<timeout ms or nothing>,<length of options>,<length of id>:<id><options><payload>"
--   (one argument per job rather than six: a bulk of 1,000 costs the client a fifth of the work);
--   options is nothing for a plain job, else "<priority>,<expireInMs>,<hold>,<forMs>,<replace>,<key>",
--   StoredJob's, each nothing when absent: hold is s (a unique key held until a try starts) or d
--   (until done), replace is 1 or nothing. Positional text, not JSON (cjson.decode cost a bulk of
--   1,000 unique jobs 0.5 ms), read in place by one string.match (cutting the options out of the
--   argument first cost another 0.5 ms)
-- Returns 3 values per job that was not simply stored, none for the others: its number among the
--   jobs (1 first), then 'duplicate' and the id of the job that holds its key (it stored nothing),
--   or 'replaced' and the id of the holder it replaced.
--
-- Every argument is checked before the first write: Redis does not roll a script back, so an error
-- half-way through would leave half a bulk behind.
--
-- Unique keys are applied job by job, in order: a job whose key is held (includes/unique.lua) by
-- an earlier job of the same push is its duplicate. With `replace`, a holder that has not started
-- a try (waiting, not held, no try counted) is removed, leaving no record (from the ready list by
-- an LREM from its tail, where a debounced job usually is), and the new job takes its key. The
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

local QUEUE_KEYS = {
  'ready', 'prioritized', 'delayed', 'notify', 'jobs', 'timeouts', 'priorities', 'sequence', 'deadlines', 'unique', 'holds',
  'reserved', 'attempts', 'tokens', 'started', 'progress', 'cancels',
}
local queues = math.floor(#KEYS / #QUEUE_KEYS)
local names_key = (#KEYS % #QUEUE_KEYS == 1) and KEYS[#KEYS] or nil
-- What the client clamps a duration to (turn-wire.ts FOREVER_MS): `now` plus it stays exact.
local LONGEST_MS = 90000000000000

-- A whole number of ms from its text, or nil.
local function whole_ms(text)
  local ms = string.match(text, '^%d+$') and tonumber(text)
  if ms and ms <= LONGEST_MS then return ms end
end

-- Reads a job's options, text[from..to], into `job`; returns what is wrong with them, or nil.
local function read_options(job, text, from, to)
  local priority, expire_in, hold, lasts, replace, key_from = string.match(text, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),()', from)
  -- Too few commas: the match ran on into the payload.
  if not priority or key_from > to + 1 then return 'its options are not "<priority>,<expireInMs>,<hold>,<forMs>,<replace>,<key>"' end
  if priority ~= '' then
    priority = string.match(priority, '^%-?%d+$') and tonumber(priority)
    if not priority or math.abs(priority) > PRIORITY_LIMIT then
      return 'priority must be a whole number from -' .. PRIORITY_LIMIT .. ' to ' .. PRIORITY_LIMIT
    end
    if priority ~= 0 then job.priority = priority end
  end
  if expire_in ~= '' then
    job.expire_in = whole_ms(expire_in)
    if not job.expire_in then return 'expireInMs must be a whole number of ms' end
  end
  if hold ~= '' then
    -- push-wire.ts sends a `unique` that is not an object as hold '!', and a bad `until` as '?'.
    if hold == '!' then return 'unique must be an object' end
    local key = string.sub(text, key_from, to)
    if #key == 0 or #key > 255 then return 'unique.key must be 1 to 255 bytes' end
    if hold ~= 's' and hold ~= 'd' then return "unique.until must be 'start' or 'done'" end
    local for_ms = whole_ms(lasts)
    if lasts ~= '' and not for_ms then return 'unique.forMs must be a whole number of ms' end
    if replace ~= '' and replace ~= '1' then return 'unique.replace must be true or false' end
    job.key, job.until_start, job.for_ms, job.replace = key, hold == 's', for_ms, replace == '1'
  end
end

-- Every job, parsed and checked: { q, id, delay, timeout, payload, priority?, expire_in?, key? }, with
-- until_start, for_ms? and replace beside a unique job's key; and per queue, its jobs in order.
local jobs, queue_jobs = {}, {}
for q = 1, queues do queue_jobs[q] = {} end
for a = queues + 1, #ARGV do
  local n = a - queues
  local text = ARGV[a]
  local q, delay, timeout, options_length, id_length, from = string.match(text, '^(%d+),(%d+),(%d*),(%d+),(%d+):()')
  q = tonumber(q)
  if not q or q < 1 or q > queues then return redis.error_reply('ERR_ARGS bad job ' .. n) end
  local id_end = from + tonumber(id_length) - 1
  local options_end = id_end + tonumber(options_length)
  if id_length == '0' or options_end >= #text then return redis.error_reply('ERR_ARGS empty id or payload') end
  local job = { q = q, id = string.sub(text, from, id_end), delay = tonumber(delay), timeout = timeout, payload = string.sub(text, options_end + 1) }
  if options_length ~= '0' then
    local problem = read_options(job, text, id_end + 1, options_end)
    if problem then return redis.error_reply('ERR_ARGS job ' .. n .. ': ' .. problem) end
  end
  jobs[n] = job
  queue_jobs[q][#queue_jobs[q] + 1] = job
end

local now = now_ms()
local keys = {}
for q = 1, queues do keys[q] = queue_keys(QUEUE_KEYS, q) end

-- Per queue: the ids that already have a payload (this push ran before), and the value in `unique`
-- of each key its unique jobs name (false: none), kept up to date as the push takes keys; one HMGET
-- each.
local known, held = {}, {}
for q = 1, queues do
  local ids, unique_keys = {}, {}
  for i, job in ipairs(queue_jobs[q]) do
    ids[i] = job.id
    if job.key then unique_keys[#unique_keys + 1] = job.key end
  end
  local payloads = batch('HMGET', keys[q].jobs, ids)
  known[q] = {}
  for i, id in ipairs(ids) do if payloads[i] then known[q][id] = true end end
  local values = batch('HMGET', keys[q].unique, unique_keys)
  held[q] = {}
  for i, key in ipairs(unique_keys) do held[q][key] = values[i] end
end

-- Per queue: id -> true for the jobs this push stores (one replaced within the push is dropped).
local storing = {}
for q = 1, queues do storing[q] = {} end

-- Whether holder `id` of a key of queue q has started a try: it is leased (running or held) or
-- has a try counted. A job this push stores has not.
local function has_started(q, id)
  if storing[q][id] then return false end
  local k = keys[q]
  return redis.call('ZSCORE', k.reserved, id) ~= false or (tonumber(redis.call('HGET', k.attempts, id)) or 0) > 0
end

-- Removes waiting job `id` of queue q, leaving no record: a unique job's replace.
local function remove_waiting(q, id)
  local k = keys[q]
  if storing[q][id] then
    storing[q][id] = nil -- its key is not written yet (store below)
    return
  end
  local delayed = redis.call('ZREM', k.delayed, id) == 1
  local prioritized = redis.call('ZREM', k.prioritized, id) == 1
  if not delayed and not prioritized then redis.call('LREM', k.ready, -1, id) end
  remove_stored(k, { id })
end

-- Applies job `job`'s unique key: returns 'stored', or 'duplicate' or 'replaced' and the holder's
-- id. A job stored or replaced takes the key (store writes it).
local function claim_key(job)
  local q, value = job.q, held[job.q][job.key]
  local holder = value and holder_of(value, now, function(id) return storing[q][id] or redis.call('HEXISTS', keys[q].jobs, id) == 1 end)
  if holder and not (job.replace and not has_started(q, holder)) then return 'duplicate', holder end
  if holder then remove_waiting(q, holder) end
  held[q][job.key] = hold_value(job.id, job.for_ms, now)
  if holder then return 'replaced', holder end
  return 'stored'
end

local reply = {}
for n, job in ipairs(jobs) do
  local q = job.q
  if not known[q][job.id] and not storing[q][job.id] then
    local outcome, other = 'stored', nil
    if job.key then outcome, other = claim_key(job) end
    if outcome ~= 'duplicate' then storing[q][job.id] = true end
    if outcome ~= 'stored' then
      reply[#reply + 1] = n
      reply[#reply + 1] = outcome
      reply[#reply + 1] = other
    end
  end
end

-- Writes queue q's jobs, in order: field-value and score-member pairs, one command per key. A
-- key taken twice (the first hold lapsed, or its holder replaced) is written with its last value.
local function store(q)
  local k = keys[q]
  local w = { jobs = {}, timeouts = {}, ready = {}, delayed = {}, prioritized = {}, priorities = {}, deadlines = {}, unique = {}, holds = {} }
  local ranked, priorities = {}, {}
  for _, job in ipairs(queue_jobs[q]) do
    if storing[q][job.id] then
      storing[q][job.id] = nil -- the same id twice in one push is stored once
      local id = job.id
      w.jobs[#w.jobs + 1] = id
      w.jobs[#w.jobs + 1] = job.payload
      if job.timeout ~= '' then
        w.timeouts[#w.timeouts + 1] = id
        w.timeouts[#w.timeouts + 1] = job.timeout
      end
      if job.key then
        w.unique[#w.unique + 1] = job.key
        w.unique[#w.unique + 1] = held[q][job.key]
        w.holds[#w.holds + 1] = id
        w.holds[#w.holds + 1] = held_key(job.key, job.until_start)
      end
      if job.expire_in then
        w.deadlines[#w.deadlines + 1] = now + job.expire_in
        w.deadlines[#w.deadlines + 1] = id
      end
      if job.priority then
        ranked[#ranked + 1] = job
        priorities[#priorities + 1] = job.priority
      end
      if job.delay > 0 then
        w.delayed[#w.delayed + 1] = now + job.delay
        w.delayed[#w.delayed + 1] = id
      elseif not job.priority then
        w.ready[#w.ready + 1] = id
      end
    end
  end
  if #ranked > 0 then
    for i, place in ipairs(new_places(k, priorities)) do
      local job = ranked[i]
      w.priorities[#w.priorities + 1] = job.id
      w.priorities[#w.priorities + 1] = place
      if job.delay == 0 then
        w.prioritized[#w.prioritized + 1] = place
        w.prioritized[#w.prioritized + 1] = job.id
      end
    end
  end
  batch('HSET', k.jobs, w.jobs)
  batch('HSET', k.timeouts, w.timeouts)
  batch('HSET', k.priorities, w.priorities)
  batch('HSET', k.unique, w.unique)
  batch('HSET', k.holds, w.holds)
  batch('ZADD', k.deadlines, w.deadlines)
  batch('ZADD', k.delayed, w.delayed)
  batch('ZADD', k.prioritized, w.prioritized)
  batch('RPUSH', k.ready, w.ready)
  notify(k.notify, #w.ready + #w.prioritized / 2)
end

if names_key then redis.call('SADD', names_key, unpack(ARGV, 1, queues)) end
for q = 1, queues do store(q) end
return reply
