-- unschedule: removes a schedule added at run time, and its pause; 0 when there was none by that
-- name (the pause of a schedule in code is left alone).
-- KEYS: definitions (hash name -> JSON), paused (set of names). ARGV: the name.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
