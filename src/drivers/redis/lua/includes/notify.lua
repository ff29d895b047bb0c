-- Wakes up to `n` workers blocked on this queue's notify list (BLPOP). The list is a hint, kept
-- short: a worker that wakes for nothing just reserves nothing and blocks again.
local function notify(key, n)
  if n <= 0 then return end
  local markers = {}
  for i = 1, math.min(n, 32) do markers[i] = '1' end
  redis.call('LPUSH', key, unpack(markers))
  redis.call('LTRIM', key, 0, 63)
end
