-- unsignal: deletes worker signals that are still what the caller read (prune drops `cancel:<id>`
-- signals whose job has no cancel request left). A signal written again since keeps its new value
-- and stays.
--
-- KEYS: signals (hash)
-- ARGV: n x (field, value as read)
-- Returns how many it deleted.
--
-- Safe to run twice: a second run finds them gone.

local signals = KEYS[1]
local deleted = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', signals, ARGV[i]) == ARGV[i + 1] then
    deleted = deleted + redis.call('HDEL', signals, ARGV[i])
  end
end
return deleted
