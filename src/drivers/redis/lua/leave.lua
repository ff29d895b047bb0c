-- leave: takes a worker that stops off the list at once (SPEC 15).
-- KEYS: beats (hash), leases (zset). ARGV: the worker's id.
-- Safe to run twice: a second run finds nothing to remove.
local beats, leases = unpack(KEYS, 1, 2)
redis.call('HDEL', beats, ARGV[1])
redis.call('ZREM', leases, ARGV[1])
