-- Reading a job's priority and expiry from the text the client sends (push-wire.ts), in push.lua
-- and push_placed.lua. Needs levels.lua (PRIORITY_LIMIT).

-- What the client clamps a duration to (turn-wire.ts FOREVER_MS): `now` plus it stays exact.
local LONGEST_MS = 90000000000000

-- A whole number of ms from its text, or nil.
local function whole_ms(text)
  local ms = string.match(text, '^%d+$') and tonumber(text)
  if ms and ms <= LONGEST_MS then return ms end
end

-- A priority from its text ('' for 0), or nil and what is wrong with it. The client sends a
-- number's text and a value of another type as '?': tonumber() gives nil for that, and the check
-- refuses a fraction, NaN or an infinity.
local function read_priority(text)
  if text == '' then return 0 end
  local priority = tonumber(text)
  if not priority or priority ~= math.floor(priority) or math.abs(priority) > PRIORITY_LIMIT then
    return nil, 'priority must be a whole number from -' .. PRIORITY_LIMIT .. ' to ' .. PRIORITY_LIMIT
  end
  return priority
end

-- An expiry in ms from its text ('' for none: false), or nil and what is wrong with it.
local function read_expiry(text)
  if text == '' then return false end
  local ms = whole_ms(text)
  if not ms then return nil, 'expireInMs must be a whole number of ms' end
  return ms
end
