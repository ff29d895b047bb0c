-- cancel_running: ends a reserved job whose cancel was requested (its worker aborted it): keeps
-- its `cancelled` record, removes it and its request. Only the holder of the current lease can.
--
-- KEYS: reserved (zset), jobs, attempts, tokens, timeouts, started, progress, cancels, done
--       (hashes), cancelled, expires (zsets)
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
-- @include records.lua
-- @include finish.lua

local k = {
  reserved = KEYS[1], jobs = KEYS[2], attempts = KEYS[3], tokens = KEYS[4], timeouts = KEYS[5], started = KEYS[6],
  progress = KEYS[7], cancels = KEYS[8], done = KEYS[9], cancelled = KEYS[10], expires = KEYS[11],
}
local id, token, keep_ms, max, channel = unpack(ARGV, 1, 5)

local current = redis.call('HGET', k.tokens, id)
if current ~= token then
  return (not current and redis.call('HEXISTS', k.jobs, id) == 0) and 1 or 0
end
keep_finished(k, 'cancelled', { id }, { { keep_ms, max } }, now_ms())
remove_stored(k, { id })
publish_finished(channel, { id })
return 1
