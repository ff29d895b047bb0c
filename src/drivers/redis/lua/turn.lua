-- turn: one round trip of a busy worker. In order: removes its done jobs (acks), counts the try of
-- held jobs it is starting (starts), gives back held jobs it will not run (unholds), then leases
-- up to `count` jobs from the first of its queues that has any. Plain reserve() and ack() are
-- turns too (a take with `hold` 0, and a turn of acks alone).
--
-- KEYS, 8 per queue (queue i uses KEYS[8*(i-1)+1 .. 8*i]):
--   ready (list), delayed (zset id -> available at, ms), reserved (zset id -> lease expiry, ms),
--   jobs (hash id -> payload), attempts (hash id -> tries counted), tokens (hash id -> lease
--   token), timeouts (hash id -> the job's own timeout, ms), notify (list)
-- ARGV: count, hold (1: hold the jobs taken, 0: count their try now), token, default timeout ms,
--       lease margin ms, hold ms; n, then n queue indexes to take from, in priority order;
--       n acks, n x (queue index, id, token); n starts, n x (...); n unholds, n x (...)
-- Returns { now, next, acked, started, qi1, id1, payload1, attempts1, lease1, qi2, ... }:
--   now      the Redis clock (ms);
--   next     the earliest time (ms) a delayed job or a lease comes due on the queues looked at
--            (-1: none), so an idle worker knows how long it may block;
--   acked    one character per ack, '1' done or '0' lease taken over (nothing changed for it);
--   started  likewise per start;
--   then 5 values per job taken; `attempts` is the try it is (held: will be, once started).
--
-- Every ack, start and give-back needs the caller's token to be the job's current one, so a worker
-- whose lease was taken over changes nothing. A held job is in `reserved` with a short lease and
-- its try not yet counted: if its worker dies it comes back after that lease as if never taken.
-- A list element with no payload in `jobs` was pushed by hand: it is returned as its own payload
-- (false in the reply stands for "none") and the worker decides what it is. Due delayed jobs and
-- expired leases of a queue move back to its ready list before it is looked at, in this same
-- script, so there is no separate reaper to race with.

-- @include now.lua
-- @include notify.lua

local function key(qi, n) return KEYS[(qi - 1) * 8 + n] end
local READY, DELAYED, RESERVED, JOBS, ATTEMPTS, TOKENS, TIMEOUTS, NOTIFY = 1, 2, 3, 4, 5, 6, 7, 8

local now = now_ms()
local count, hold, token = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3]
local default_timeout, margin, hold_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local take_from = {}
for p = 1, tonumber(ARGV[7]) do take_from[p] = tonumber(ARGV[7 + p]) end
local at = 8 + #take_from

-- One command for many ids (a turn at concurrency 50 carries fifty acks and fifty starts: a call
-- per job each would be most of its cost), in chunks under Lua's limit on unpack(); the replies
-- of a reading command are joined. Pairs stay whole: the chunk size is even.
local function batch(command, key_name, args)
  local out = {}
  for i = 1, #args, 4000 do
    local reply = redis.call(command, key_name, unpack(args, i, math.min(i + 3999, #args)))
    if type(reply) == 'table' then
      for _, value in ipairs(reply) do out[#out + 1] = value end
    end
  end
  return out
end

-- Reads the next list of (queue index, id, token) triples. Returns the ids whose token is still
-- the job's current one, grouped by queue index, and one flag per triple: '1' owned, '0' not.
local function owned()
  local n = tonumber(ARGV[at])
  local by_queue = {}
  for g = 0, n - 1 do
    local qi = tonumber(ARGV[at + 1 + g * 3])
    local q = by_queue[qi]
    if not q then
      q = { ids = {}, owners = {}, positions = {} }
      by_queue[qi] = q
    end
    q.ids[#q.ids + 1] = ARGV[at + 2 + g * 3]
    q.owners[#q.owners + 1] = ARGV[at + 3 + g * 3]
    q.positions[#q.positions + 1] = g + 1
  end
  at = at + 1 + n * 3
  local flags, mine = {}, {}
  for qi, q in pairs(by_queue) do
    local current = batch('HMGET', key(qi, TOKENS), q.ids)
    local ids = {}
    for i, id in ipairs(q.ids) do
      if current[i] == q.owners[i] then
        ids[#ids + 1] = id
        flags[q.positions[i]] = '1'
      else
        flags[q.positions[i]] = '0'
      end
    end
    if #ids > 0 then mine[qi] = ids end
  end
  return mine, table.concat(flags)
end

-- now + the job's own timeout (or the default) + margin, per id, as ZADD's score-member pairs.
local function full_leases(qi, ids)
  local timeouts = batch('HMGET', key(qi, TIMEOUTS), ids)
  local pairs_ = {}
  for i, id in ipairs(ids) do
    pairs_[#pairs_ + 1] = now + (tonumber(timeouts[i]) or default_timeout) + margin
    pairs_[#pairs_ + 1] = id
  end
  return pairs_
end

local acks, acked = owned()
for qi, ids in pairs(acks) do
  batch('ZREM', key(qi, RESERVED), ids)
  for k = JOBS, TIMEOUTS do batch('HDEL', key(qi, k), ids) end
end

local starts, started = owned()
for qi, ids in pairs(starts) do
  for _, id in ipairs(ids) do redis.call('HINCRBY', key(qi, ATTEMPTS), id, 1) end
  batch('ZADD', key(qi, RESERVED), full_leases(qi, ids))
end

local unholds = owned()
for qi, ids in pairs(unholds) do
  batch('ZREM', key(qi, RESERVED), ids)
  batch('HDEL', key(qi, TOKENS), ids)
  -- LPUSH puts its last argument first: push in reverse to keep their order at the front.
  local reversed = {}
  for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
  batch('LPUSH', key(qi, READY), reversed)
  notify(key(qi, NOTIFY), #ids)
end

local reply = { now, -1, acked, started }
if count == 0 then return reply end

local next_due = -1
local function consider(due)
  if due and (next_due == -1 or due < next_due) then next_due = due end
end

-- The earliest score of a zset (nil when empty), after moving members due by `now` to the ready
-- list. Looking at the head alone is the common case: nothing is due.
local function due_head(zset, ready, tokens)
  local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  if not head or tonumber(head) > now then return head and tonumber(head) end
  local due = redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 1000)
  redis.call('ZREM', zset, unpack(due))
  if tokens then redis.call('HDEL', tokens, unpack(due)) end
  redis.call('RPUSH', ready, unpack(due))
  head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  return head and tonumber(head)
end

for _, qi in ipairs(take_from) do
  consider(due_head(key(qi, DELAYED), key(qi, READY), nil))
  -- An expired lease: its worker died or hung. The job is ready again; its token is void.
  consider(due_head(key(qi, RESERVED), key(qi, READY), key(qi, TOKENS)))

  local ids = redis.call('LPOP', key(qi, READY), count)
  if ids then
    local tries, leases = {}, {}
    if hold then
      -- Leased for hold_ms, its try not counted: the start counts it.
      local counted = batch('HMGET', key(qi, ATTEMPTS), ids)
      for i, id in ipairs(ids) do
        tries[i] = (tonumber(counted[i]) or 0) + 1
        leases[#leases + 1] = now + hold_ms
        leases[#leases + 1] = id
      end
    else
      for i, id in ipairs(ids) do tries[i] = redis.call('HINCRBY', key(qi, ATTEMPTS), id, 1) end
      leases = full_leases(qi, ids)
    end
    local owners = {}
    for _, id in ipairs(ids) do
      owners[#owners + 1] = id
      owners[#owners + 1] = token
    end
    batch('HSET', key(qi, TOKENS), owners)
    batch('ZADD', key(qi, RESERVED), leases)
    local payloads = batch('HMGET', key(qi, JOBS), ids)
    for i, id in ipairs(ids) do
      consider(leases[i * 2 - 1])
      reply[#reply + 1] = qi
      reply[#reply + 1] = id
      reply[#reply + 1] = payloads[i]
      reply[#reply + 1] = tries[i]
      reply[#reply + 1] = leases[i * 2 - 1]
    end
    break
  end
end

reply[2] = next_due
return reply
