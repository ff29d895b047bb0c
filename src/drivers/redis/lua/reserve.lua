-- reserve: acknowledges the caller's finished jobs, then leases up to `count` jobs from the first
-- of its queues that has any. A busy worker thus pays one round trip per turn: the acks of the jobs
-- it just finished ride along with the request for the next ones (count 0: acks only).
--
-- KEYS, 7 per queue (queue i uses KEYS[7*(i-1)+1 .. 7*i]):
--   ready (list), delayed (zset id -> available at, ms), reserved (zset id -> lease expiry, ms),
--   jobs (hash id -> payload), attempts (hash id -> reservations so far),
--   tokens (hash id -> lease token), timeouts (hash id -> the job's own timeout, ms)
-- ARGV: n acks, then n x (queue index, id, token);
--       count, token, default timeout ms, lease margin ms, then queue indexes in priority order
-- Returns { now, next, acked, qi1, id1, payload1, attempts1, lease1, qi2, ... }:
--   now    the Redis clock (ms);
--   next   the earliest time (ms) a delayed job or a lease comes due on the queues looked at
--          (-1: none), so an idle worker knows how long it may block;
--   acked  one character per ack, '1' done or '0' lease taken over (nothing changed for that one);
--   then one group of 5 per leased job.
-- An ack is refused unless the caller still holds the lease (its token is the current one).
-- A list element with no payload in `jobs` was pushed by hand: it is returned as its own payload
-- (false in the reply stands for "none") and the worker decides what it is.
-- Due delayed jobs and expired leases of a queue move back to its ready list before it is looked
-- at, in this same script, so there is no separate reaper to race with.

-- @include now.lua

local function key(qi, n) return KEYS[(qi - 1) * 7 + n] end

local acked = {}
local n_acks = tonumber(ARGV[1])
for a = 0, n_acks - 1 do
  local qi, id, token = tonumber(ARGV[2 + a * 3]), ARGV[3 + a * 3], ARGV[4 + a * 3]
  if redis.call('HGET', key(qi, 6), id) == token then
    redis.call('ZREM', key(qi, 3), id)
    redis.call('HDEL', key(qi, 4), id)
    redis.call('HDEL', key(qi, 5), id)
    redis.call('HDEL', key(qi, 6), id)
    redis.call('HDEL', key(qi, 7), id)
    acked[a + 1] = '1'
  else
    acked[a + 1] = '0'
  end
end

local at = 2 + n_acks * 3
local count, token, default_timeout, margin = tonumber(ARGV[at]), ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
local now = now_ms()
local reply = { now, -1, table.concat(acked) }
if count == 0 then return reply end

local next_due = -1
local function consider(due)
  if due and (next_due == -1 or due < next_due) then next_due = due end
end

-- The earliest score of a zset (nil when empty); members due by `now` move to the ready list
-- first. Looking at the head alone is the common case: nothing is due.
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

for p = at + 4, #ARGV do
  local qi = tonumber(ARGV[p])
  local ready, delayed, reserved, jobs, attempts, tokens, timeouts = key(qi, 1), key(qi, 2), key(qi, 3), key(qi, 4), key(qi, 5), key(qi, 6), key(qi, 7)
  consider(due_head(delayed, ready, nil))
  -- An expired lease: its worker died or hung. The job is ready again; its token is void.
  consider(due_head(reserved, ready, tokens))

  local ids = redis.call('LPOP', ready, count)
  if ids then
    for _, id in ipairs(ids) do
      local tries = redis.call('HINCRBY', attempts, id, 1)
      local lease = now + (tonumber(redis.call('HGET', timeouts, id)) or default_timeout) + margin
      redis.call('HSET', tokens, id, token)
      redis.call('ZADD', reserved, lease, id)
      consider(lease)
      reply[#reply + 1] = qi
      reply[#reply + 1] = id
      reply[#reply + 1] = redis.call('HGET', jobs, id)
      reply[#reply + 1] = tries
      reply[#reply + 1] = lease
    end
    break
  end
end

reply[2] = next_due
return reply
