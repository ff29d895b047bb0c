-- ack: the job is done; forget it. Only the holder of the current lease can.
--
-- KEYS: reserved (zset), jobs, attempts, tokens, timeouts (hashes)
-- ARGV: id, token
-- Returns 1, or 0 when the lease was taken over (nothing changes).

if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, 5 do redis.call('HDEL', KEYS[i], ARGV[1]) end
return 1
