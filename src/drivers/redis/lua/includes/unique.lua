-- Unique jobs (SPEC 12). `unique` maps a key to its holder, "<lapses at ms, or nothing>:<holder id>";
-- `holds` maps the holder back to "<s or d><key>": it lets go of the key in the step that starts a
-- try of it (s) or that ends it (d: done, failed, cancelled, expired, cleared). A hold past its
-- lapse is free (Redis 7.0 has no TTL on a hash field, so the lapse is compared here), and so is
-- the key of a holder that is no longer stored. Letting go compares the holder's id: a key taken
-- by another job since (the first hold lapsed) stays that job's.

-- The holder's id in a value of `unique`, and when its hold lapses (nil: never).
local function read_hold(value)
  local lapses, id = string.match(value, '^(%d*):(.*)$')
  return id, tonumber(lapses)
end

-- The id of the job that holds a key at `now`, from the key's value in `unique`, or nil when the
-- key is free. `is_stored(id)` says whether a job is stored (push_placed.lua counts the jobs it is
-- storing too).
local function holder_of(value, now, is_stored)
  local id, lapses = read_hold(value)
  if (lapses and lapses <= now) or not is_stored(id) then return nil end
  return id
end

-- The value of `unique` that job `id` takes a key with (free, or its holder gone) at `now`, for
-- `for_ms` at most (nil: no limit).
local function hold_value(id, for_ms, now)
  return (for_ms and string.format('%.0f', now + for_ms) or '') .. ':' .. id
end

-- The value of `holds` of the job that took `key`: it lets go of it when a try starts
-- (`until_start`) or when done.
local function held_key(key, until_start)
  return (until_start and 's' or 'd') .. key
end

-- Jobs `ids` let go of their keys: all of them, or (`starting`) only those held until a try starts.
local function let_go_of_keys(k, ids, starting)
  if redis.call('EXISTS', k.holds) == 0 then return end
  local holds = batch('HMGET', k.holds, ids)
  local letting = {}
  for i, id in ipairs(ids) do
    local hold = holds[i]
    if hold and (not starting or string.sub(hold, 1, 1) == 's') then
      letting[#letting + 1] = id
      local key = string.sub(hold, 2)
      local value = redis.call('HGET', k.unique, key)
      if value and read_hold(value) == id then redis.call('HDEL', k.unique, key) end
    end
  end
  batch('HDEL', k.holds, letting)
end
