-- beat: a worker's heartbeat (SPEC 15). Stores what the worker says of itself, stamped by Redis's
-- clock, lists it until its lease runs out, and drops the workers whose lease ran out already (so
-- the list needs no reaper: any worker's beat does it).
--
-- KEYS: beats (hash), leases (zset), metric_queues (set)
-- ARGV: the worker's id, the beat's seq, the lease (ms), the beat as JSON; then the names of the
--   queues whose counts go with this beat (add_metrics.lua adds them, in each queue's slot)
-- Returns 1 when stored, 0 when a beat of this seq or a later one was stored already.
--
-- A stored beat is "<seq>:<beat at ms>:<expires at ms>:<the beat as JSON>": its seq is read here
-- without decoding the JSON, which cjson could not give back as it came (an empty list turns into
-- an object).
--
-- Safe to run twice: a second run finds its own seq stored and changes nothing.

-- @include now.lua
-- @include batch.lua

local beats, leases, metric_queues = unpack(KEYS, 1, 3)
local id, seq, lease, said = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if not seq or seq < 0 or seq ~= math.floor(seq) then return redis.error_reply('ERR_ARGS a beat\'s seq must be a whole number') end
if not lease or lease < 0 then return redis.error_reply('ERR_ARGS the lease must be a number of ms') end

local stored = redis.call('HGET', beats, id)
local last = stored and tonumber(string.match(stored, '^(%d+):'))
if last and last >= seq then return 0 end

local now = now_ms()
local expires = math.floor(now + lease)
redis.call('HSET', beats, id, string.format('%.0f:%.0f:%.0f:%s', seq, now, expires, said))
redis.call('ZADD', leases, expires, id)
if #ARGV > 4 then redis.call('SADD', metric_queues, unpack(ARGV, 5)) end
local gone = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
batch('HDEL', beats, gone)
batch('ZREM', leases, gone)
return 1
