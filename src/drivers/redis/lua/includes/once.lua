-- For commands people run (clear, retry, flush), which change more than one job: the first run
-- keeps its reply under a key named after the call, for an hour, and a second run of the same call
-- (ioredis sends a script again when a dropped connection lost its reply) returns that reply and
-- changes nothing. `once(key, work)` runs `work` only the first time.
local function once(key, work)
  local done = redis.call('GET', key)
  if done then return cjson.decode(done) end
  local reply = work()
  redis.call('SET', key, cjson.encode(reply), 'PX', 3600000)
  return reply
end
