-- A queue's keys by name. The client sends a script each queue's keys in the order of one list of
-- names (script-keys.ts), queue after queue; the script declares the same list and reads queue
-- qi's keys back by name, so no script counts its way through KEYS.
local function queue_keys(names, qi)
  local k, base = {}, (qi - 1) * #names
  for i, name in ipairs(names) do k[name] = KEYS[base + i] end
  return k
end
