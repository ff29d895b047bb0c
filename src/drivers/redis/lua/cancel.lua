-- cancel: cancels one job of one queue (Records.cancel asks every queue; only the one that has the
-- job changes anything).
--
-- KEYS: the keys named in QUEUE_KEYS below (CANCEL_KEYS in script-keys.ts), then once (string:
--       this call's reply, see once.lua)
-- ARGV: id, keep ms, most records kept (of the cancelled record), finish channel
-- Returns { outcome, now }: outcome 'cancelled', 'requested', 'finished' or 'unknown' (see
-- CancelOutcome); now the Redis clock (ms).
--
-- A stored job whose lease does not hold (ready, delayed, or its worker died) is cancelled here
-- and now: its `cancelled` record is kept, it leaves every key, lets go of its unique key, and its
-- id goes out on the finish channel. One script, so no take can hand it out in between. Taking a
-- ready job out of the list of its priority is an LREM, which scans the list: a cancel on a
-- queue of a million ready jobs blocks Redis for a few ms; cancels are rare, takes are not, so
-- the take path pays nothing for it. A job that is delayed or leased is in no list, and no list is
-- scanned.
--
-- A job whose lease holds (a worker holds or runs it) gets a request in `cancels`, with the keep
-- of its record, and the client then sets the `cancel:<id>` worker signal. The signal lives in
-- another hash slot than the queue's keys, so on a Redis Cluster no script can write both: the
-- request here is the state, the signal only the notice that makes its worker abort it (and
-- Driver.cancelRunning record it). If the client dies between the two, no worker is told, and
-- the running job may finish as if never cancelled (whoever cancelled it got no answer); but if
-- it ever comes back to the ready list (released, given back, or its worker died), the take finds
-- the request and records it cancelled instead of handing it out (turn.lua), so it never runs
-- again. The request leaves with the job (ack, fail, cancel, clear); a signal left behind is
-- dropped by prune (RedisRecords).
--
-- Safe to run twice: the first run that changes anything keeps its reply under `once`, and a
-- second run returns it. 'finished' and 'unknown' change nothing and need no such key.

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua
-- @include priority.lua

local QUEUE_KEYS = {
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'done', 'cancelled', 'expires', 'failed', 'prioritized', 'priorities',
}
local k = queue_keys(QUEUE_KEYS, 1)
local once_key = KEYS[#QUEUE_KEYS + 1]
local id, keep_ms, max, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local prior = redis.call('GET', once_key)
if prior then return cjson.decode(prior) end

local now = now_ms()
local reply
if redis.call('HEXISTS', k.jobs, id) == 1 then
  local lease = tonumber(redis.call('ZSCORE', k.reserved, id))
  if lease and lease > now then
    redis.call('HSET', k.cancels, id, now .. ':' .. keep_ms .. ':' .. max)
    reply = { 'requested', now }
  else
    if not lease then remove_waiting(k, id, false) end
    cancel_stored(k, { id }, { { keep_ms, max } }, now)
    publish_finished(channel, { id })
    reply = { 'cancelled', now }
  end
  redis.call('SET', once_key, cjson.encode(reply), 'PX', 3600000)
  return reply
end
if redis.call('HEXISTS', k.done, id) == 1 or redis.call('HEXISTS', k.failed, id) == 1 then return { 'finished', now } end
return { 'unknown', now }
