-- progress: stores what a running job reported with ctx.progress(). Only the holder of the current
-- lease can.
--
-- KEYS: tokens, progress (hashes)
-- ARGV: id, token, progress (encoded JSON text)
-- Returns 1, or 0 when the lease was taken over or the job is gone (nothing changes).
--
-- Safe to run twice: the second run writes the same value again.

local tokens, progress = KEYS[1], KEYS[2]
local id, token, value = ARGV[1], ARGV[2], ARGV[3]

if redis.call('HGET', tokens, id) ~= token then return 0 end
redis.call('HSET', progress, id, value)
return 1
