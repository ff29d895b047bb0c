-- schedule: moves a schedule's cursor on to an occurrence and, when the occurrence fires, stores
-- its job with push_placed.lua's own code, in this one script: however many workers move one cursor at
-- once, one moves it, and one job is stored (SPEC 12).
--
-- KEYS: the `schedules` hash of the job's queue (a cursor lives in its queue's slot); then, when
--   the occurrence fires, push_placed.lua's keys for that queue (and, on a single Redis, the set of queue
--   names), as push-wire.ts encodes them
-- ARGV: the schedule's name, the occurrence (ms); then, when it fires, push_placed.lua's ARGV for its job
-- Returns { 0 } when the cursor is at the occurrence or later already (nothing changed), else { 1 }
--   followed by push_placed.lua's reply. A cursor is "<occurrence ms>:<fired at ms, or nothing>".
--
-- Safe to run twice: the second run finds the cursor at the occurrence and changes nothing.

local cursors, name, at = KEYS[1], ARGV[1], tonumber(ARGV[2])
if not at or at < 0 or at ~= math.floor(at) then return redis.error_reply('ERR_ARGS the occurrence must be a whole number of ms') end
local cursor = redis.call('HGET', cursors, name)
local last, fired = nil, ''
if cursor then last, fired = string.match(cursor, '^(%d+):(%d*)$') end
if last and tonumber(last) >= at then return { 0 } end

-- What is left of KEYS and ARGV is push_placed.lua's.
table.remove(KEYS, 1)
table.remove(ARGV, 1)
table.remove(ARGV, 1)
local pushed = {}
if #ARGV > 0 then
  pushed = (function()
-- @include ../push_placed.lua
  end)()
  -- push_placed.lua checks every argument before its first write: a refused job moves no cursor.
  if pushed.err then return pushed end
  local time = redis.call('TIME')
  fired = tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
end
redis.call('HSET', cursors, name, at .. ':' .. fired)
return { 1, unpack(pushed) }
