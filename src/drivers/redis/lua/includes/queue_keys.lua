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
