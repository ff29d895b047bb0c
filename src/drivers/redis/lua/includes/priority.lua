-- Priorities (SPEC 12). A ready job waits in the list of its priority: `ready` for priority 0, as
-- every job did before priorities existed, and `ready:<priority>` for another one. `levels` is a
-- zset of the priorities other than 0 whose list may hold jobs (member and score: the priority),
-- so a take pops the lists from the highest priority down, `ready` in its place among them, each
-- list from its head: FIFO within a priority, as on SQL (which orders by priority, then by when a
-- job became ready). A queue that uses no priority pays one EXISTS per take for them.
--
-- A list is left in `levels` when a take empties it; the next take that finds it empty drops it.
-- The lists' keys are not among a script's KEYS: they are named from `ready` here and carry its
-- `{queue}` hash tag, so they share its slot (a Cluster finds them).
--
-- `ranks` keeps the priority of every stored job that may come back to a list (due, released,
-- given back, its lease run out): written by the push for a delayed job and by the take for a job
-- it pops from a priority's list, deleted when the job is. A job with no entry comes back to
-- `ready`. A push of 1,000 priority jobs therefore writes what a plain one does, and one field of
-- `levels` (a job of a priority used to be placed in one sorted set and one hash by a number
-- of its own: the push cost about twice a plain one).
--
-- What a release before this one stored: ready jobs of a priority in the `prioritized` zset, by
-- their place (PRIORITY_LIMIT - priority) * 2^32 + a FIFO number, and the places in `priorities`.
-- A take moves the whole zset to the front of the lists (adopt_placed: every job there waited
-- longer than any in a list), and a job that comes back reads its priority from its place.
-- Needs batch.lua.

-- @include levels.lua

local FIFO_SPAN = 4294967296

-- The priority of a place in `prioritized` (a release before this one).
local function placed_priority(place)
  return PRIORITY_LIMIT - math.floor(tonumber(place) / FIFO_SPAN)
end

-- Puts stored jobs `ids` where a take finds them, in the list of their priority (`ranks`, or a
-- place in `priorities`; 0 without either), at its back or (`at_front`) at its front, in the
-- order given.
local function make_ready(k, ids, at_front)
  if redis.call('EXISTS', k.ranks, k.priorities) == 0 then
    push_levels(k, { [0] = ids }, at_front)
    return
  end
  local ranks = batch('HMGET', k.ranks, ids)
  local places = redis.call('EXISTS', k.priorities) == 1 and batch('HMGET', k.priorities, ids) or {}
  local levels = {}
  for i, id in ipairs(ids) do
    local priority = tonumber(ranks[i]) or (places[i] and placed_priority(places[i])) or 0
    add_to_level(levels, priority, id)
  end
  push_levels(k, levels, at_front)
end

-- Moves the jobs in `prioritized` (a release before this one pushed them) to the front of the
-- lists of their priorities, in their order, each list's jobs before those already in it.
local function adopt_placed(k)
  local placed = redis.call('ZRANGE', k.prioritized, 0, -1, 'WITHSCORES')
  local levels = {}
  for i = 1, #placed, 2 do add_to_level(levels, placed_priority(placed[i + 1]), placed[i]) end
  push_levels(k, levels, true)
  redis.call('DEL', k.prioritized)
end

-- Pops up to `count` ready ids from queue `k` in the take order (see above), and notes in
-- `ranks` the priority of those of a priority other than 0; an empty table when there are none.
local function take_ready(k, count)
  if redis.call('EXISTS', k.levels, k.prioritized) == 0 then return redis.call('LPOP', k.ready, count) or {} end
  if redis.call('EXISTS', k.prioritized) == 1 then adopt_placed(k) end
  local ids, ranked, emptied = {}, {}, {}
  local function pop(priority)
    local wanted = count - #ids
    local popped = redis.call('LPOP', level_list(k, priority), wanted) or {}
    for _, id in ipairs(popped) do
      ids[#ids + 1] = id
      if priority ~= 0 then
        ranked[#ranked + 1] = id
        ranked[#ranked + 1] = priority
      end
    end
    if priority ~= 0 and #popped < wanted then emptied[#emptied + 1] = priority end
  end
  local plain_done = false
  for _, priority in ipairs(redis.call('ZREVRANGE', k.levels, 0, -1)) do
    if #ids == count then break end
    if not plain_done and tonumber(priority) < 0 then
      pop(0)
      plain_done = true
      if #ids == count then break end
    end
    pop(priority)
  end
  if not plain_done and #ids < count then pop(0) end
  batch('ZREM', k.levels, emptied)
  batch('HSET', k.ranks, ranked)
  return ids
end

-- Takes waiting job `id` out of where it waits, `delayed` or the ready list of its priority (the
-- caller knows it is not leased); `from_tail`: look from a list's tail first (a job pushed last, as
-- a debounced one usually is) rather than its head (one that waited long, as an expiring one). Its
-- `ranks` entry names the list when it has one; else it is looked for in each.
local function remove_waiting(k, id, from_tail)
  local direction = from_tail and -1 or 1
  if redis.call('ZREM', k.delayed, id) == 1 or redis.call('ZREM', k.prioritized, id) == 1 then return end
  local rank = redis.call('HGET', k.ranks, id)
  if rank and redis.call('LREM', level_list(k, rank), direction, id) == 1 then return end
  if redis.call('LREM', k.ready, direction, id) == 1 then return end
  for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do
    if redis.call('LREM', level_list(k, priority), direction, id) == 1 then return end
  end
end

-- The number of ready jobs of queue `k` in its lists (and in `prioritized`).
local function ready_count(k)
  local n = redis.call('LLEN', k.ready) + redis.call('ZCARD', k.prioritized)
  for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do n = n + redis.call('LLEN', level_list(k, priority)) end
  return n
end
