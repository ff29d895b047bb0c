-- clear: deletes every job of one queue (ready, delayed and reserved); failed records stay.
--
-- KEYS: ready (list), delayed, reserved (zsets), jobs, attempts, tokens, timeouts (hashes), notify (list)
-- ARGV: none
-- Returns the number of jobs deleted. Workers still running a deleted job find their lease gone.

local n = redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
redis.call('DEL', unpack(KEYS))
return n
