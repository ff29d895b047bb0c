-- add_metrics: adds one beat's counts of one queue to the queue's minute buckets and all-time
-- totals (SPEC 15). A worker's beat runs this once per queue it has counts of, in that queue's
-- slot, next to beat.lua: the counts are atomic per queue, and Redis Cluster works.
--
-- KEYS: the queue's `metrics` hash (the all-time totals), its `metrics_seen:<worker>` string, then
--   per bucket of ARGV, in order, the `metrics:<hour>` hash of the hour the bucket's minute falls in
-- ARGV: the beat's seq, how long minute buckets are kept (ms: METRIC_KEEP_MS); then per bucket: its
--   minute (ms, a multiple of 60,000), n, then n x (field, whole number to add)
-- Returns 1 when the counts were added, 0 when those of this seq or a later one were already.
--
-- A bucket whose minute is older than the keep by Redis's clock (a beat that could not be
-- delivered for a day) goes into the totals alone. An hour's hash lives until the keep has run
-- out for its last minute, METRIC_KEEP_MS after the hour's end; a read leaves out its minutes
-- older than the keep until then.
--
-- Every argument is checked before the first write: Redis does not roll a script back.
--
-- Safe to run twice: the seen key holds the seq of the worker's last beat added here (for an hour:
-- a worker beats every few seconds), and a run whose seq is not above it adds nothing.

-- @include now.lua

local HOUR_MS, MINUTE_MS = 3600000, 60000
-- HINCRBY takes up to 2^63; a count this long stays exact on the way back to JavaScript.
local MOST_DIGITS = 15

local totals, seen = KEYS[1], KEYS[2]
local hours = { unpack(KEYS, 3) }
local seq, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
if not seq or not keep then return redis.error_reply('ERR_ARGS the seq and the keep must be numbers') end

local buckets, at = {}, 3
while at <= #ARGV do
  local minute, n = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  if not minute or minute < 0 or minute % MINUTE_MS ~= 0 then
    return redis.error_reply('ERR_ARGS a bucket\'s minute must be a multiple of 60,000 ms')
  end
  if not n or n < 0 or at + 1 + 2 * n > #ARGV then return redis.error_reply('ERR_ARGS a bucket\'s counts are cut short') end
  local counts = { unpack(ARGV, at + 2, at + 1 + 2 * n) }
  for i = 2, #counts, 2 do
    if not string.match(counts[i], '^%d+$') or #counts[i] > MOST_DIGITS then
      return redis.error_reply('ERR_ARGS metric ' .. counts[i - 1] .. ' must be a whole number, not ' .. counts[i])
    end
  end
  buckets[#buckets + 1] = { minute = minute, counts = counts }
  at = at + 2 + 2 * n
end
if #buckets ~= #hours then return redis.error_reply('ERR_ARGS one hour key per bucket') end

local last = tonumber(redis.call('GET', seen))
if last and last >= seq then return 0 end
redis.call('SET', seen, ARGV[1], 'PX', HOUR_MS)

local oldest_kept = now_ms() - keep
for b, bucket in ipairs(buckets) do
  local hour = bucket.minute - bucket.minute % HOUR_MS
  local kept = bucket.minute >= oldest_kept
  local prefix = string.format('%d:', (bucket.minute - hour) / MINUTE_MS)
  local counts = bucket.counts
  for i = 1, #counts, 2 do
    redis.call('HINCRBY', totals, counts[i], counts[i + 1])
    if kept then redis.call('HINCRBY', hours[b], prefix .. counts[i], counts[i + 1]) end
  end
  if kept then redis.call('PEXPIREAT', hours[b], hour + HOUR_MS + keep) end
end
return 1
