-- turn: one round trip of a busy worker. In order: removes its done jobs (acks), counts the try of
-- held jobs it is starting (starts), gives back held jobs it will not run (give-backs), then leases
-- up to `count` jobs from the first of its queues that has any. Plain reserve() and ack() are
-- turns too (a take with `hold` 0, and a turn of acks alone).
--
-- KEYS, per queue, queue after queue: its `ready` key, from which the script names the queue's
--   other keys (queue_keys_from in queue_keys.lua), then `took` (string: this client's last take,
--   see below)
-- ARGV: count, hold (1: hold the jobs taken, 0: count their try now), token, default timeout ms,
--       lease margin ms, hold ms, keep ms and most records kept of the record of a job the take
--       finds past its expiry, finish channel; n, then n queue indexes to take from, in priority
--       order; n acks, n x (queue index, id, token); n acks that keep a record, n x (queue index,
--       id, token, keep ms, most records kept, result); n starts, n x (queue index, id, token, the
--       try it is); n give-backs, n x (queue index, id, token)
--   A kept ack's result is '' for none (null) or '=' followed by the result's text.
-- Returns { now, next, acked, started, qi1, id1, payload1, attempts1, lease1, qi2, ... }:
--   now      the Redis clock (ms);
--   next     the earliest time (ms) a delayed job or a lease comes due on the queues looked at
--            (-1: none), so an idle worker knows how long it may block;
--   acked    one character per ack (the plain ones, then those that keep a record), '1' done or
--            '0' lease taken over (nothing changed for it);
--   started  likewise per start;
--   then 5 values per job taken; `attempts` is the try it is (held: will be, once started).
--
-- An ack that keeps a record writes it to `done` (see includes/finish.lua), adds it to
-- `completed` and `expires`, and forgets the oldest completed records beyond the smallest "most
-- records kept" of the queue's acks in this turn, so a fast queue never piles up records between
-- prunes; the ids of those acks go out in one PUBLISH on the finish channel. An ack without one
-- costs what it did before records existed (they come apart, so its arguments are as they were),
-- but for one HDEL of `started` and one EXISTS of the keys only some jobs use (progress, cancels,
-- ranks, deadlines, unique keys) per queue, and publishes nothing.
--
-- A take pops in priority order (includes/priority.lua): a queue with no job of a priority other
-- than 0 pays one EXISTS for that. A job it pops that has a cancel request (`cancels`: it was
-- running when the cancel was asked, and has come back since: released, given back, or its worker
-- died) is not handed out: it is recorded cancelled here, so no worker ever runs it again, whether
-- or not the `cancel:<id>` signal reached the workers. One HLEN per take looks for any. Likewise a
-- job it pops past its expiry, whose try never started, is recorded expired (kept as ARGV says)
-- and not handed out (includes/expiry.lua; one EXISTS per take looks for any). The ids of both go
-- out on the finish channel. A start (a plain take, or a held job's start) takes the job out of
-- `deadlines`, so it can no longer expire, and lets go of a unique key held until a try starts
-- (includes/unique.lua); an ack lets go of one held until done. One EXISTS when the queue has
-- neither.
--
-- Every ack, start and give-back needs the caller's token to be the job's current one, so a worker
-- whose lease was taken over changes nothing. A held job is in `reserved` with a short lease and
-- its try not yet counted: if its worker dies it comes back after that lease as if never taken.
-- A list element with no payload in `jobs` was pushed by hand: it is returned as its own payload
-- (false in the reply stands for "none") and the worker decides what it is. Due delayed jobs and
-- expired leases of a queue become ready again (the list of their priority) before
-- it is looked at, in this same script, so there is no separate reaper to race with.
--
-- Safe to run twice (ioredis sends a script again when a dropped connection lost its reply):
--   - an ack or a start whose job is gone (no token, no payload) was done by the first run: '1'
--     (and an ack writes no second record, and publishes nothing);
--   - a start sets the try count to the try it is, rather than adding one;
--   - a give-back finds its token gone and changes nothing;
--   - a take writes what it took, under its token, to the first take queue's `took` key (one key
--     per client and queue, kept for the hold), and a second run with the same token hands out
--     those jobs again instead of taking more. Two takes of one client in flight at once can
--     lose the first one's reply for good: its jobs come back when their hold runs out. A job a
--     take cancelled is gone: a second run neither sees nor publishes it again.

-- @include now.lua
-- @include notify.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua
-- @include priority.lua
-- @include expiry.lua

-- Queue qi's keys by name, built once per queue from the two it is sent: its `ready` key (the
-- others are built from it) and this client's `took` key.
local named = {}
local function keys_of(qi)
  local k = named[qi]
  if not k then
    k = queue_keys_from(KEYS[qi * 2 - 1])
    k.took = KEYS[qi * 2]
    named[qi] = k
  end
  return k
end

local now = now_ms()
local count, hold, token = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3]
local default_timeout, margin, hold_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local expired_keep = { ARGV[7], ARGV[8] }
local channel = ARGV[9]
local take_from = {}
for p = 1, tonumber(ARGV[10]) do take_from[p] = tonumber(ARGV[10 + p]) end
local at = 11 + #take_from
-- Ids of the jobs this turn finished with a record (kept acks, cancelled, expired): told in one
-- PUBLISH at the end.
local finished = {}

-- Reads the next list of (queue index, id, token, extras...) groups of `width` values. Returns the
-- groups whose token is still the job's current one, by queue index (each group's extras as one
-- table), and one flag per group: '1' owned, or done already when `gone_is_done` and the job has
-- neither token nor payload; '0' not.
local function owned(width, gone_is_done)
  local n = tonumber(ARGV[at])
  local by_queue = {}
  for g = 0, n - 1 do
    local base = at + 1 + g * width
    local qi = tonumber(ARGV[base])
    local q = by_queue[qi]
    if not q then
      q = { ids = {}, owners = {}, extras = {}, positions = {} }
      by_queue[qi] = q
    end
    q.ids[#q.ids + 1] = ARGV[base + 1]
    q.owners[#q.owners + 1] = ARGV[base + 2]
    if width > 3 then q.extras[#q.extras + 1] = { unpack(ARGV, base + 3, base + width - 1) } end
    q.positions[#q.positions + 1] = g + 1
  end
  at = at + 1 + n * width
  local flags, mine = {}, {}
  for qi, q in pairs(by_queue) do
    local current = batch('HMGET', keys_of(qi).tokens, q.ids)
    local ids, extras = {}, {}
    for i, id in ipairs(q.ids) do
      if current[i] == q.owners[i] then
        ids[#ids + 1] = id
        extras[#extras + 1] = q.extras[i]
        flags[q.positions[i]] = '1'
      elseif gone_is_done and not current[i] and redis.call('HEXISTS', keys_of(qi).jobs, id) == 0 then
        flags[q.positions[i]] = '1'
      else
        flags[q.positions[i]] = '0'
      end
    end
    if #ids > 0 then mine[qi] = { ids = ids, extras = extras } end
  end
  return mine, table.concat(flags)
end

-- now + the job's own timeout (or the default) + margin, per id, as ZADD's score-member pairs.
local function full_leases(k, ids)
  local timeouts = batch('HMGET', k.timeouts, ids)
  local pairs_ = {}
  for i, id in ipairs(ids) do
    pairs_[#pairs_ + 1] = now + (tonumber(timeouts[i]) or default_timeout) + margin
    pairs_[#pairs_ + 1] = id
  end
  return pairs_
end

-- (id, now) per id, as HSET's field-value pairs for `started`.
local function started_now(ids)
  local pairs_ = {}
  for _, id in ipairs(ids) do
    pairs_[#pairs_ + 1] = id
    pairs_[#pairs_ + 1] = now
  end
  return pairs_
end

local acks, acked = owned(3, true)
for qi, q in pairs(acks) do remove_stored(keys_of(qi), q.ids) end
local kept_acks, kept_acked = owned(6, true)
for qi, q in pairs(kept_acks) do
  keep_finished(keys_of(qi), 'completed', q.ids, q.extras, now)
  remove_stored(keys_of(qi), q.ids)
  for _, id in ipairs(q.ids) do finished[#finished + 1] = id end
end
acked = acked .. kept_acked

-- Jobs `ids` start a try: they can no longer expire, and let go of the unique keys they hold
-- until a try starts. One EXISTS when the queue has neither deadlines nor unique keys.
local function start_tries(k, ids)
  if redis.call('EXISTS', k.deadlines, k.holds) == 0 then return end
  batch('ZREM', k.deadlines, ids)
  let_go_of_keys(k, ids, true)
end

local starts, started = owned(4, true)
for qi, q in pairs(starts) do
  local k = keys_of(qi)
  local tries = {}
  for i, id in ipairs(q.ids) do
    tries[#tries + 1] = id
    tries[#tries + 1] = q.extras[i][1]
  end
  batch('HSET', k.attempts, tries)
  batch('HSET', k.started, started_now(q.ids))
  batch('ZADD', k.reserved, full_leases(k, q.ids))
  start_tries(k, q.ids)
end

-- Given back: at the front of the ready list of their priority.
local give_backs = owned(3, false)
for qi, q in pairs(give_backs) do
  local k = keys_of(qi)
  batch('ZREM', k.reserved, q.ids)
  batch('HDEL', k.tokens, q.ids)
  make_ready(k, q.ids, true)
  notify(k.notify, #q.ids)
end

local reply = { now, -1, acked, started }
if count == 0 then
  publish_finished(channel, finished)
  return reply
end

local next_due = -1
local function consider(due)
  if due and (next_due == -1 or due < next_due) then next_due = due end
end

-- The earliest score of zset `zset` of queue `k` (nil when empty), after making its members due by
-- `now` ready (make_ready); `voids_lease`: their tokens go too. Looking at the head alone is the
-- common case: nothing is due.
local function due_head(k, zset, voids_lease)
  local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  if not head or tonumber(head) > now then return head and tonumber(head) end
  local due = redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 1000)
  redis.call('ZREM', zset, unpack(due))
  if voids_lease then redis.call('HDEL', k.tokens, unpack(due)) end
  make_ready(k, due, false)
  head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  return head and tonumber(head)
end

-- Hands out jobs `ids` of queue `qi` (already leased to `token`): 5 values each in the reply.
local function hand_out(qi, ids, tries, leases)
  local payloads = batch('HMGET', keys_of(qi).jobs, ids)
  for i, id in ipairs(ids) do
    consider(leases[i])
    reply[#reply + 1] = qi
    reply[#reply + 1] = id
    reply[#reply + 1] = payloads[i]
    reply[#reply + 1] = tries[i]
    reply[#reply + 1] = leases[i]
  end
end

-- A second run of a take: hand out again what the first run took and still holds for this token.
local took_key = #take_from > 0 and keys_of(take_from[1]).took
local took = took_key and redis.call('GET', took_key)
if took and string.sub(took, 1, #token + 1) == token .. '|' then
  local qi, list = string.match(took, '^[^|]*|(%d+)|(.*)$')
  qi = tonumber(qi)
  -- JSON: an id pushed by hand is its own payload and may hold any character.
  local ids = cjson.decode(list)
  local k = keys_of(qi)
  local current = batch('HMGET', k.tokens, ids)
  local mine = {}
  for i, id in ipairs(ids) do if current[i] == token then mine[#mine + 1] = id end end
  if #mine > 0 then
    local counted = batch('HMGET', k.attempts, mine)
    local tries, leases = {}, {}
    for i, id in ipairs(mine) do
      tries[i] = (tonumber(counted[i]) or 0) + (hold and 1 or 0)
      leases[i] = tonumber(redis.call('ZSCORE', k.reserved, id))
    end
    hand_out(qi, mine, tries, leases)
  end
  reply[2] = next_due
  publish_finished(channel, finished)
  return reply
end

-- Of jobs `ids` just popped from queue `k`, records cancelled those with a cancel request and
-- returns the others, in order.
local function drop_cancelled(k, ids)
  if redis.call('HLEN', k.cancels) == 0 then return ids end
  local asked = batch('HMGET', k.cancels, ids)
  local runnable, cancelled, keeps = {}, {}, {}
  for i, id in ipairs(ids) do
    if asked[i] then
      cancelled[#cancelled + 1] = id
      keeps[#keeps + 1] = cancel_keep(asked[i])
      finished[#finished + 1] = id
    else
      runnable[#runnable + 1] = id
    end
  end
  if #cancelled > 0 then cancel_stored(k, cancelled, keeps, now) end
  return runnable
end

-- Pops up to `count` ids from queue `k` in priority order (nil when none is ready). Those
-- cancelled or past their expiry are recorded so instead, and it pops again for the rest.
local function pop_runnable(k)
  while true do
    local ids = take_ready(k, count)
    if #ids == 0 then return nil end
    ids = drop_expired(k, drop_cancelled(k, ids), expired_keep, now, finished)
    if #ids > 0 then return ids end
  end
end

for _, qi in ipairs(take_from) do
  local k = keys_of(qi)
  consider(due_head(k, k.delayed, false))
  -- An expired lease: its worker died or hung. The job is ready again; its token is void.
  consider(due_head(k, k.reserved, true))

  local ids = pop_runnable(k)
  if ids then
    local tries, pairs_ = {}, {}
    if hold then
      -- Leased for hold_ms, its try not counted: the start counts it.
      local counted = batch('HMGET', k.attempts, ids)
      for i, id in ipairs(ids) do
        tries[i] = (tonumber(counted[i]) or 0) + 1
        pairs_[#pairs_ + 1] = now + hold_ms
        pairs_[#pairs_ + 1] = id
      end
    else
      for i, id in ipairs(ids) do tries[i] = redis.call('HINCRBY', k.attempts, id, 1) end
      batch('HSET', k.started, started_now(ids))
      pairs_ = full_leases(k, ids)
      start_tries(k, ids)
    end
    local owners, leases = {}, {}
    for i, id in ipairs(ids) do
      owners[#owners + 1] = id
      owners[#owners + 1] = token
      leases[i] = pairs_[i * 2 - 1]
    end
    batch('HSET', k.tokens, owners)
    batch('ZADD', k.reserved, pairs_)
    redis.call('SET', took_key, token .. '|' .. qi .. '|' .. cjson.encode(ids), 'PX', math.max(1000, hold and hold_ms or (default_timeout + margin)))
    hand_out(qi, ids, tries, leases)
    break
  end
end

reply[2] = next_due
publish_finished(channel, finished)
return reply
