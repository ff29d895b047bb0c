-- turn: one round trip of a busy worker. In order: removes its done jobs (acks), counts the try of
-- held jobs it is starting (starts), gives back held jobs it will not run (give-backs), then leases
-- up to `count` jobs from the first of its queues that has any. Plain reserve() and ack() are
-- turns too (a take with `hold` 0, and a turn of acks alone).
--
-- KEYS, 16 per queue (queue i uses KEYS[16*(i-1)+1 .. 16*i]):
--   ready (list), delayed (zset id -> available at, ms), reserved (zset id -> lease expiry, ms),
--   jobs (hash id -> payload), attempts (hash id -> tries counted), tokens (hash id -> lease
--   token), timeouts (hash id -> the job's own timeout, ms), notify (list), took (string: this
--   client's last take, see below), started (hash id -> start of its current try, ms),
--   done (hash id -> record JSON), completed (zset id -> finished at, ms), expires (zset id ->
--   end of the record's keep, ms), progress (hash id -> progress text), cancels (hash id ->
--   a running job's cancel request, see cancel.lua), cancelled (zset id -> finished at, ms)
-- ARGV: count, hold (1: hold the jobs taken, 0: count their try now), token, default timeout ms,
--       lease margin ms, hold ms, finish channel; n, then n queue indexes to take from, in
--       priority order; n acks, n x (queue index, id, token); n acks that keep a record, n x
--       (queue index, id, token, keep ms, most records kept, result); n starts, n x (queue
--       index, id, token, the try it is); n give-backs, n x (queue index, id, token)
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
-- but for one HDEL of `started` and one EXISTS of `progress` and `cancels` per queue, and
-- publishes nothing.
--
-- A job taken from the ready list that has a cancel request (`cancels`: it was running when the
-- cancel was asked, and has come back since: released, given back, or its worker died) is not
-- handed out: it is recorded cancelled here, so no worker ever runs it again, whether or not the
-- `cancel:<id>` signal reached the workers. One HLEN per take looks for any.
--
-- Every ack, start and give-back needs the caller's token to be the job's current one, so a worker
-- whose lease was taken over changes nothing. A held job is in `reserved` with a short lease and
-- its try not yet counted: if its worker dies it comes back after that lease as if never taken.
-- A list element with no payload in `jobs` was pushed by hand: it is returned as its own payload
-- (false in the reply stands for "none") and the worker decides what it is. Due delayed jobs and
-- expired leases of a queue move back to its ready list before it is looked at, in this same
-- script, so there is no separate reaper to race with.
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
-- @include records.lua
-- @include finish.lua

local function key(qi, n) return KEYS[(qi - 1) * 16 + n] end
local READY, DELAYED, RESERVED, JOBS, ATTEMPTS, TOKENS, TIMEOUTS, NOTIFY, TOOK = 1, 2, 3, 4, 5, 6, 7, 8, 9
local STARTED, CANCELS = 10, 15

-- Queue qi's keys by name, as includes/finish.lua reads them.
local named = {}
local function keys_of(qi)
  local k = named[qi]
  if not k then
    local b = (qi - 1) * 16
    k = {
      ready = KEYS[b + 1], delayed = KEYS[b + 2], reserved = KEYS[b + 3], jobs = KEYS[b + 4], attempts = KEYS[b + 5],
      tokens = KEYS[b + 6], timeouts = KEYS[b + 7], started = KEYS[b + 10], done = KEYS[b + 11], completed = KEYS[b + 12],
      expires = KEYS[b + 13], progress = KEYS[b + 14], cancels = KEYS[b + 15], cancelled = KEYS[b + 16],
    }
    named[qi] = k
  end
  return k
end

local now = now_ms()
local count, hold, token = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3]
local default_timeout, margin, hold_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local channel = ARGV[7]
local take_from = {}
for p = 1, tonumber(ARGV[8]) do take_from[p] = tonumber(ARGV[8 + p]) end
local at = 9 + #take_from
-- Ids of the jobs this turn finished with a record: told in one PUBLISH at the end.
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
    local current = batch('HMGET', key(qi, TOKENS), q.ids)
    local ids, extras = {}, {}
    for i, id in ipairs(q.ids) do
      if current[i] == q.owners[i] then
        ids[#ids + 1] = id
        extras[#extras + 1] = q.extras[i]
        flags[q.positions[i]] = '1'
      elseif gone_is_done and not current[i] and redis.call('HEXISTS', key(qi, JOBS), id) == 0 then
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
local function full_leases(qi, ids)
  local timeouts = batch('HMGET', key(qi, TIMEOUTS), ids)
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

local starts, started = owned(4, true)
for qi, q in pairs(starts) do
  local tries = {}
  for i, id in ipairs(q.ids) do
    tries[#tries + 1] = id
    tries[#tries + 1] = q.extras[i][1]
  end
  batch('HSET', key(qi, ATTEMPTS), tries)
  batch('HSET', key(qi, STARTED), started_now(q.ids))
  batch('ZADD', key(qi, RESERVED), full_leases(qi, q.ids))
end

local give_backs = owned(3, false)
for qi, q in pairs(give_backs) do
  local ids = q.ids
  batch('ZREM', key(qi, RESERVED), ids)
  batch('HDEL', key(qi, TOKENS), ids)
  -- LPUSH puts its last argument first: push in reverse to keep their order at the front.
  local reversed = {}
  for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
  batch('LPUSH', key(qi, READY), reversed)
  notify(key(qi, NOTIFY), #ids)
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

-- Hands out jobs `ids` of queue `qi` (already leased to `token`): 5 values each in the reply.
local function hand_out(qi, ids, tries, leases)
  local payloads = batch('HMGET', key(qi, JOBS), ids)
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
local took_key = #take_from > 0 and key(take_from[1], TOOK)
local took = took_key and redis.call('GET', took_key)
if took and string.sub(took, 1, #token + 1) == token .. '|' then
  local qi, list = string.match(took, '^[^|]*|(%d+)|(.*)$')
  qi = tonumber(qi)
  -- JSON: an id pushed by hand is its own payload and may hold any character.
  local ids = cjson.decode(list)
  local current = batch('HMGET', key(qi, TOKENS), ids)
  local mine = {}
  for i, id in ipairs(ids) do if current[i] == token then mine[#mine + 1] = id end end
  if #mine > 0 then
    local counted = batch('HMGET', key(qi, ATTEMPTS), mine)
    local tries, leases = {}, {}
    for i, id in ipairs(mine) do
      tries[i] = (tonumber(counted[i]) or 0) + (hold and 1 or 0)
      leases[i] = tonumber(redis.call('ZSCORE', key(qi, RESERVED), id))
    end
    hand_out(qi, mine, tries, leases)
  end
  reply[2] = next_due
  publish_finished(channel, finished)
  return reply
end

-- Pops up to `count` ids from queue qi's ready list (false when it is empty). Those with a cancel
-- request are recorded cancelled instead, and it pops again for the rest.
local function pop_ready(qi)
  while true do
    local ids = redis.call('LPOP', key(qi, READY), count)
    if not ids or redis.call('HLEN', key(qi, CANCELS)) == 0 then return ids end
    local asked = batch('HMGET', key(qi, CANCELS), ids)
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
    if #cancelled > 0 then cancel_stored(keys_of(qi), cancelled, keeps, now) end
    if #runnable > 0 then return runnable end
  end
end

for _, qi in ipairs(take_from) do
  consider(due_head(key(qi, DELAYED), key(qi, READY), nil))
  -- An expired lease: its worker died or hung. The job is ready again; its token is void.
  consider(due_head(key(qi, RESERVED), key(qi, READY), key(qi, TOKENS)))

  local ids = pop_ready(qi)
  if ids then
    local tries, pairs_ = {}, {}
    if hold then
      -- Leased for hold_ms, its try not counted: the start counts it.
      local counted = batch('HMGET', key(qi, ATTEMPTS), ids)
      for i, id in ipairs(ids) do
        tries[i] = (tonumber(counted[i]) or 0) + 1
        pairs_[#pairs_ + 1] = now + hold_ms
        pairs_[#pairs_ + 1] = id
      end
    else
      for i, id in ipairs(ids) do tries[i] = redis.call('HINCRBY', key(qi, ATTEMPTS), id, 1) end
      batch('HSET', key(qi, STARTED), started_now(ids))
      pairs_ = full_leases(qi, ids)
    end
    local owners, leases = {}, {}
    for i, id in ipairs(ids) do
      owners[#owners + 1] = id
      owners[#owners + 1] = token
      leases[i] = pairs_[i * 2 - 1]
    end
    batch('HSET', key(qi, TOKENS), owners)
    batch('ZADD', key(qi, RESERVED), pairs_)
    redis.call('SET', took_key, token .. '|' .. qi .. '|' .. cjson.encode(ids), 'PX', math.max(1000, hold and hold_ms or (default_timeout + margin)))
    hand_out(qi, ids, tries, leases)
    break
  end
end

reply[2] = next_due
publish_finished(channel, finished)
return reply
