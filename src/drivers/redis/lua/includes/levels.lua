-- The ready lists of a queue, one per priority (the whole layout is in priority.lua): what a push
-- needs to put new jobs in them. Needs batch.lua.

local PRIORITY_LIMIT = 1000000

-- The list of ready jobs of `priority` (a number, or its text) on queue `k`.
local function level_list(k, priority)
  if tonumber(priority) == 0 then return k.ready end
  return k.ready .. ':' .. priority
end

-- Puts jobs in the lists of their priorities: `levels` maps a priority to its ids in order, put at
-- the lists' backs or (`at_front`) at their fronts, keeping that order.
local function push_levels(k, levels, at_front)
  local marks = {}
  for priority, ids in pairs(levels) do
    if at_front then
      -- LPUSH puts its last argument first: push in reverse to keep their order at the front.
      local reversed = {}
      for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
      batch('LPUSH', level_list(k, priority), reversed)
    else
      batch('RPUSH', level_list(k, priority), ids)
    end
    if priority ~= 0 then
      marks[#marks + 1] = priority
      marks[#marks + 1] = priority
    end
  end
  batch('ZADD', k.levels, marks)
end

-- Adds `id` to the ids of `priority` in `levels` (a table as push_levels takes it).
local function add_to_level(levels, priority, id)
  local ids = levels[priority]
  if not ids then
    ids = {}
    levels[priority] = ids
  end
  ids[#ids + 1] = id
end

-- Where a new job waits, collected in `w` for one queue: in `delayed` (w.delayed, ZADD's pairs)
-- with its priority in `ranks` (w.ranks, HSET's pairs) when it has a delay, else in the list of
-- its priority (w.levels, as push_levels takes them). Returns 1 when it is ready now, else 0.
local function place_new(w, id, delay_ms, priority, now)
  if delay_ms > 0 then
    w.delayed[#w.delayed + 1] = now + delay_ms
    w.delayed[#w.delayed + 1] = id
    if priority ~= 0 then
      w.ranks[#w.ranks + 1] = id
      w.ranks[#w.ranks + 1] = priority
    end
    return 0
  end
  add_to_level(w.levels, priority, id)
  return 1
end
