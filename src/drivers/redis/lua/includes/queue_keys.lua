-- A queue's keys by name. The client sends a script each queue's keys in the order of one list of
-- names (script-keys.ts), queue after queue; the script declares the same list and reads queue
-- qi's keys back by name, so no script counts its way through KEYS.
local function queue_keys(names, qi)
  local k, base = {}, (qi - 1) * #names
  for i, name in ipairs(names) do k[name] = KEYS[base + i] end
  return k
end

-- The same, for the hot path (turn.lua), from one key a queue is sent: its `ready` key,
-- `<prefix>:{<queue>}:ready`. The others share its stem, so they are in its hash slot; each is
-- built the first time the script names it. Sending all of a queue's keys cost a busy worker's
-- round trip about 7 us (23 key names, about 900 bytes, built by the client and parsed by Redis).
-- KEY_NAMES maps a name to its key's own name where they differ (keys.ts names every key).
local KEY_NAMES = { failedAt = 'failed_at' }
local function queue_keys_from(ready)
  local stem = string.sub(ready, 1, #ready - #'ready')
  return setmetatable({ ready = ready }, {
    __index = function(k, name)
      local key = stem .. (KEY_NAMES[name] or name)
      rawset(k, name, key)
      return key
    end,
  })
end

-- The queues of a push (push.lua, push_placed.lua): KEYS holds each queue's `ready` key, queue
-- after queue, then, on a single Redis, the set of queue names (`<prefix>:queues`; in a Cluster it
-- lives in another hash slot, so the client adds the names itself). No queue's key ends like that
-- set's name, which is how it is told apart. Returns the number of queues and that set (or nil).
-- One key a queue, not the 8 or 18 a push names: each key sent cost a single push about 1 us of
-- the client's CPU (ioredis writes it, Redis parses it).
local function push_queues()
  local last = KEYS[#KEYS]
  if string.sub(last, -6) == ':ready' then return #KEYS, nil end
  return #KEYS - 1, last
end
