-- Priorities (SPEC 12). A job of priority 0 waits in the `ready` list, as every job did before
-- priorities existed, so a queue that uses none pays one ZCARD per take for them. A ready job of
-- another priority waits in the `prioritized` zset, scored by its place in the take order:
--
--   (PRIORITY_LIMIT - priority) * 2^32 + its FIFO number (mod 2^32)
--
-- so a higher priority sorts first and, within one priority, the earlier push. The score is a
-- whole number below 2^53 (at most 2,000,001 * 2^32, about 8.6e15), exact as a double, and
-- redis.call() writes a Lua number that is a whole number as its exact digits (only Lua's own
-- tostring() and `..` cut it to 14 significant digits, so a place is never concatenated).
-- A take pops the zset's members of priority above 0, then the list, then those below 0.
--
-- `priorities` keeps each such job's place for as long as it is stored, so when it comes back (due,
-- released, given back, its lease run out) it returns to the zset at the same place, not to the
-- list. The FIFO number (`sequence`) starts again at 1 when no stored job has a priority, and wraps
-- after 2^32: only jobs of one priority pushed across a wrap can then run out of push order.
-- Needs batch.lua.

local PRIORITY_LIMIT = 1000000
local FIFO_SPAN = 4294967296
-- Places below this are of priorities above 0; at or above it, of priorities below 0.
local PLAIN_PLACE = string.format('%.0f', PRIORITY_LIMIT * FIFO_SPAN)

-- Places for new jobs of `priorities` (none 0), in the order given: consecutive FIFO numbers, as
-- Lua numbers (not formatted as text, which a bulk of 1,000 would do a thousand times).
local function new_places(k, priorities)
  if redis.call('EXISTS', k.priorities) == 0 then redis.call('DEL', k.sequence) end
  local first = redis.call('INCRBY', k.sequence, #priorities) - #priorities
  local places = {}
  for i, priority in ipairs(priorities) do
    places[i] = (PRIORITY_LIMIT - priority) * FIFO_SPAN + (first + i) % FIFO_SPAN
  end
  return places
end

-- Puts stored jobs `ids` where a take finds them: those with a priority at their place in
-- `prioritized`, the others on the ready list, at its back or (`at_front`) at its front in the
-- order given.
local function make_ready(k, ids, at_front)
  local plain = ids
  if redis.call('EXISTS', k.priorities) == 1 then
    local places = batch('HMGET', k.priorities, ids)
    local placed = {}
    plain = {}
    for i, id in ipairs(ids) do
      if places[i] then
        placed[#placed + 1] = places[i]
        placed[#placed + 1] = id
      else
        plain[#plain + 1] = id
      end
    end
    batch('ZADD', k.prioritized, placed)
  end
  if not at_front then
    batch('RPUSH', k.ready, plain)
    return
  end
  -- LPUSH puts its last argument first: push in reverse to keep their order at the front.
  local reversed = {}
  for i = #plain, 1, -1 do reversed[#reversed + 1] = plain[i] end
  batch('LPUSH', k.ready, reversed)
end

-- Members of `prioritized` from `min` to `max` (scores, as ZRANGEBYSCORE reads them), at most `count`,
-- appended to `ids` and to `taken`.
local function range_places(k, min, max, count, ids, taken)
  if count < 1 then return end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', k.prioritized, min, max, 'LIMIT', 0, count)) do
    ids[#ids + 1] = id
    taken[#taken + 1] = id
  end
end

-- Pops up to `count` ready ids in the take order (see above); an empty table when there are none.
local function take_ready(k, count)
  if redis.call('ZCARD', k.prioritized) == 0 then return redis.call('LPOP', k.ready, count) or {} end
  local ids, taken = {}, {}
  range_places(k, '-inf', '(' .. PLAIN_PLACE, count, ids, taken)
  if #ids < count then
    for _, id in ipairs(redis.call('LPOP', k.ready, count - #ids) or {}) do ids[#ids + 1] = id end
  end
  range_places(k, PLAIN_PLACE, '+inf', count - #ids, ids, taken)
  batch('ZREM', k.prioritized, taken)
  return ids
end
