-- cancel_running: ends a reserved job whose cancel was requested (its worker aborted it): keeps
-- its `cancelled` record, removes it and its request, and lets go of its unique key. Only the
-- holder of the current lease can.
--
-- KEYS: the keys named in QUEUE_KEYS below (CANCEL_RUNNING_KEYS in script-keys.ts)
-- ARGV: id, token, keep ms, most records kept, finish channel
-- Returns 1, or 0 when the lease was taken over (nothing changes).
--
-- The `cancel:<id>` worker signal is in another hash slot: the client deletes it after this
-- script (a signal left behind when it cannot is dropped by prune).
--
-- Safe to run twice: a job with neither token nor payload was ended by the first run, and a
-- second run returns 1 and changes nothing (and publishes nothing).

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include records.lua
-- @include unique.lua
-- @include finish.lua

local QUEUE_KEYS = {
  'reserved', 'jobs', 'attempts', 'tokens', 'timeouts', 'started', 'progress', 'cancels', 'ranks', 'priorities', 'deadlines', 'unique', 'holds',
  'done', 'cancelled', 'expires',
}
local k = queue_keys(QUEUE_KEYS, 1)
local id, token, keep_ms, max, channel = unpack(ARGV, 1, 5)

local current = redis.call('HGET', k.tokens, id)
if current ~= token then
  return (not current and redis.call('HEXISTS', k.jobs, id) == 0) and 1 or 0
end
keep_finished(k, 'cancelled', { id }, { { keep_ms, max } }, now_ms())
remove_stored(k, { id })
publish_finished(channel, { id })
return 1
