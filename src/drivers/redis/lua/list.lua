-- list: a page of one queue's records in one state, newest first. Read-only.
--
-- KEYS: the keys named in QUEUE_KEYS below (RECORD_KEYS in script-keys.ts; the same as find.lua's)
-- ARGV: state, how many to skip, how many to return
-- Returns 7 values per record (see includes/record.lua).
--
-- Newest first: ready jobs in the reverse of the order a take hands them out, the last to run
-- first (the lists of the priorities from the lowest up, each from its tail; see
-- includes/priority.lua), delayed ones by their time and reserved ones by their lease (latest
-- first), finished records by when they finished. Delayed jobs past their time and expired leases
-- are in neither state's page until the next take makes them ready (find calls them ready).

-- @include now.lua
-- @include batch.lua
-- @include queue_keys.lua
-- @include record.lua
-- @include priority.lua

local QUEUE_KEYS = {
  'ready', 'levels', 'prioritized', 'delayed', 'reserved', 'jobs', 'attempts', 'started', 'progress', 'done', 'failed', 'failedAt',
  'completed', 'cancelled', 'expired',
}
local k = queue_keys(QUEUE_KEYS, 1)
local finished = { completed = k.completed, cancelled = k.cancelled, expired = k.expired }
local state, skip, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

-- The members and scores of a WITHSCORES reply, apart.
local function split(scored)
  local ids, scores = {}, {}
  for i = 1, #scored, 2 do
    ids[#ids + 1] = scored[i]
    scores[#scores + 1] = tonumber(scored[i + 1])
  end
  return ids, scores
end

-- The ready ids of one part of the take order, last to run first: `size` of them, `read(from,
-- n)` reads n from the from-th (0 first). Appends to `ids` what the page wants of this part.
local function page_of(ids, size, read)
  if count < 1 then return end
  if skip >= size then
    skip = skip - size
    return
  end
  local part = read(skip, math.min(count, size - skip))
  for _, id in ipairs(part) do ids[#ids + 1] = id end
  count = count - #part
  skip = 0
end

-- A list's part of a page, from its tail.
local function list_page(ids, list)
  page_of(ids, redis.call('LLEN', list), function(from, n)
    local oldest_first = redis.call('LRANGE', list, -(from + n), -(from + 1))
    local newest_first = {}
    for i = #oldest_first, 1, -1 do newest_first[#newest_first + 1] = oldest_first[i] end
    return newest_first
  end)
end

-- Jobs a release before this one placed in `prioritized` are listed first or last by their sign
-- (the next take moves them to the front of their lists).
local function placed_page(ids, min, max)
  page_of(ids, redis.call('ZCOUNT', k.prioritized, min, max), function(from, n)
    return redis.call('ZREVRANGEBYSCORE', k.prioritized, max, min, 'LIMIT', from, n)
  end)
end

local function ready_page()
  local ids = {}
  local below_zero = string.format('%.0f', PRIORITY_LIMIT * FIFO_SPAN)
  placed_page(ids, below_zero, '+inf')
  local plain_done = false
  for _, priority in ipairs(redis.call('ZRANGE', k.levels, 0, -1)) do
    if not plain_done and tonumber(priority) > 0 then
      list_page(ids, k.ready)
      plain_done = true
    end
    list_page(ids, level_list(k, priority))
  end
  if not plain_done then list_page(ids, k.ready) end
  placed_page(ids, '-inf', '(' .. below_zero)
  return ids
end

local reply = {}
if count < 1 then return reply end
if state == 'ready' then
  append_waiting(reply, k, ready_page(), 'ready', {})
elseif state == 'delayed' or state == 'reserved' then
  local ids, ats = split(redis.call('ZREVRANGEBYSCORE', k[state], '+inf', '(' .. now_ms(), 'WITHSCORES', 'LIMIT', skip, count))
  append_waiting(reply, k, ids, state, ats)
elseif finished[state] then
  local ids = redis.call('ZREVRANGE', finished[state], skip, skip + count - 1)
  append_finished(reply, k.done, ids, 'done', {})
elseif state == 'failed' then
  local ids, ats = split(redis.call('ZREVRANGE', k.failedAt, skip, skip + count - 1, 'WITHSCORES'))
  append_finished(reply, k.failed, ids, 'failed', ats)
end
return reply
