-- find: one job's record on one queue, in whatever state it is. Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (RECORD_KEYS in script-keys.ts; the same as list.lua's)
-- ARGV: id
-- Returns the record as 7 values (see includes/record.lua), or none when the queue has no job and
-- no record of that id.
--
-- A stored job is reserved while its lease holds, delayed until its time, and ready otherwise (a
-- delayed job past its time, or an expired lease, is what the next take gets); its `at` is then
-- the time it became ready, if it had one. A stored job comes before a record of the same id.

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include record.lua

local QUEUE_KEYS = {
  'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'jobs', 'attempts', 'started', 'progress', 'done', 'failed', 'failedAt',
  'completed', 'cancelled', 'expired',
}
local k = queue_keys(QUEUE_KEYS, 1)
local id = ARGV[1]

local reply = {}
if redis.call('HEXISTS', k.jobs, id) == 1 then
  local now = now_ms()
  local lease = tonumber(redis.call('ZSCORE', k.reserved, id))
  local at = tonumber(redis.call('ZSCORE', k.delayed, id))
  if lease and lease > now then
    append_waiting(reply, k, { id }, 'reserved', { lease })
  elseif at and at > now then
    append_waiting(reply, k, { id }, 'delayed', { at })
  else
    append_waiting(reply, k, { id }, 'ready', { at or lease })
  end
  return reply
end
append_finished(reply, k.done, { id }, 'done', {})
if #reply > 0 then return reply end
append_finished(reply, k.failed, { id }, 'failed', { tonumber(redis.call('ZSCORE', k.failedAt, id)) })
return reply
