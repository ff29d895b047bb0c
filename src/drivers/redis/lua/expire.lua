-- expire: ends as `expired` the jobs of one queue that waited past their deadline and that no
-- worker took (Records.prune); a take ends those it finds itself (turn.lua, includes/expiry.lua).
-- A job held or run by a worker is left alone.
--
-- KEYS: the keys named in QUEUE_KEYS below (EXPIRE_KEYS in script-keys.ts)
-- ARGV: keep ms, most records kept (of the expired records), most jobs to end in this run,
--       finish channel
-- Returns how many it ended; when that is the whole allowance, more may be left for another run.
--
-- A job it ends leaves every key and lets go of its unique key, and its id goes out on the finish
-- channel. Taking a ready job out of the list of its priority is an LREM from the list's head,
-- where a job that waited that long usually is.
--
-- Safe to run twice: a second run finds nothing more to end (but what came due in between).

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua
-- @include expiry.lua
-- @include priority.lua

local QUEUE_KEYS = {
  'ready', 'levels', 'delayed', 'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels',
  'ranks', 'deadlines', 'unique', 'holds', 'done', 'expired', 'expires', 'prioritized', 'priorities',
}
local k = queue_keys(QUEUE_KEYS, 1)
local keep, limit, channel = { ARGV[1], ARGV[2] }, tonumber(ARGV[3]), ARGV[4]
local now = now_ms()

-- Takes job `id` out of where it waits (`lease`: its score in `reserved`, a lease that ran out).
local function take_out(id, lease)
  if lease then return end -- remove_stored takes it out of `reserved`
  remove_waiting(k, id, false)
end

local ended, held = {}, 0
while #ended < limit do
  -- A held job (leased, its try not started) stays in `deadlines`: skip past those seen.
  local due = redis.call('ZRANGEBYSCORE', k.deadlines, '-inf', now, 'LIMIT', held, limit - #ended)
  if #due == 0 then break end
  local late = {}
  for _, id in ipairs(due) do
    local lease = tonumber(redis.call('ZSCORE', k.reserved, id))
    if lease and lease > now then
      held = held + 1
    elseif redis.call('HEXISTS', k.jobs, id) == 0 then
      redis.call('ZREM', k.deadlines, id)
    else
      take_out(id, lease)
      late[#late + 1] = id
      ended[#ended + 1] = id
    end
  end
  if #late > 0 then expire_stored(k, late, keep, now) end
end
publish_finished(channel, ended)
return #ended
