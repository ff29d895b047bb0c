-- find: one job's record on one queue, in whatever state it is. Read-only.
--
-- KEYS: ready (list), delayed, reserved (zsets), jobs, attempts, started, done, failed (hashes),
--       failed_at, completed, cancelled, expired (zsets), progress (hash); the same as list.lua's
-- ARGV: id
-- Returns the record as 7 values (see includes/record.lua), or none when the queue has no job and
-- no record of that id.
--
-- A stored job is reserved while its lease holds, delayed until its time, and ready otherwise (a
-- delayed job past its time, or an expired lease, is what the next take gets); its `at` is then
-- the time it became ready, if it had one. A stored job comes before a record of the same id.

-- @include now.lua
-- @include batch.lua
-- @include record.lua

local k = { jobs = KEYS[4], attempts = KEYS[5], started = KEYS[6], progress = KEYS[13] }
local delayed, reserved, done, failed, failed_at = KEYS[2], KEYS[3], KEYS[7], KEYS[8], KEYS[9]
local id = ARGV[1]

local reply = {}
if redis.call('HEXISTS', k.jobs, id) == 1 then
  local now = now_ms()
  local lease = tonumber(redis.call('ZSCORE', reserved, id))
  local at = tonumber(redis.call('ZSCORE', delayed, id))
  if lease and lease > now then
    append_waiting(reply, k, { id }, 'reserved', { lease })
  elseif at and at > now then
    append_waiting(reply, k, { id }, 'delayed', { at })
  else
    append_waiting(reply, k, { id }, 'ready', { at or lease })
  end
  return reply
end
append_finished(reply, done, { id }, 'done', {})
if #reply > 0 then return reply end
append_finished(reply, failed, { id }, 'failed', { tonumber(redis.call('ZSCORE', failed_at, id)) })
return reply
