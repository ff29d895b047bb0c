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

-- Calls `change(qi, id)` for each (queue index, id, token) group whose token is current; returns
-- one '1' or '0' per group.
local function each_owned(change)
  local n = tonumber(ARGV[at])
  local flags = {}
  for g = 0, n - 1 do
    local qi, id, owner = tonumber(ARGV[at + 1 + g * 3]), ARGV[at + 2 + g * 3], ARGV[at + 3 + g * 3]
    if redis.call('HGET', key(qi, TOKENS), id) == owner then
      change(qi, id)
      flags[g + 1] = '1'
    else
      flags[g + 1] = '0'
    end
  end
  at = at + 1 + n * 3
  return table.concat(flags)
end

local acked = each_owned(function(qi, id)
  redis.call('ZREM', key(qi, RESERVED), id)
  for k = JOBS, TIMEOUTS do redis.call('HDEL', key(qi, k), id) end
end)

local function full_lease(qi, id)
  return now + (tonumber(redis.call('HGET', key(qi, TIMEOUTS), id)) or default_timeout) + margin
end

local started = each_owned(function(qi, id)
  redis.call('HINCRBY', key(qi, ATTEMPTS), id, 1)
  redis.call('ZADD', key(qi, RESERVED), full_lease(qi, id), id)
end)

each_owned(function(qi, id)
  redis.call('ZREM', key(qi, RESERVED), id)
  redis.call('HDEL', key(qi, TOKENS), id)
  redis.call('LPUSH', key(qi, READY), id)
  notify(key(qi, NOTIFY), 1)
end)

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
    for _, id in ipairs(ids) do
      local tries, lease
      if hold then
        tries = (tonumber(redis.call('HGET', key(qi, ATTEMPTS), id)) or 0) + 1
        lease = now + hold_ms
      else
        tries = redis.call('HINCRBY', key(qi, ATTEMPTS), id, 1)
        lease = full_lease(qi, id)
      end
      redis.call('HSET', key(qi, TOKENS), id, token)
      redis.call('ZADD', key(qi, RESERVED), lease, id)
      consider(lease)
      reply[#reply + 1] = qi
      reply[#reply + 1] = id
      reply[#reply + 1] = redis.call('HGET', key(qi, JOBS), id)
      reply[#reply + 1] = tries
      reply[#reply + 1] = lease
    end
    break
  end
end

reply[2] = next_due
return reply
