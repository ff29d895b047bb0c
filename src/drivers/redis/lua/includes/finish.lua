-- Finishing stored jobs: their record in `done`, then their removal from every key that runs them.
-- `k` names one queue's keys (see queue_keys.lua): reserved (zset), jobs, attempts, tokens,
-- timeouts, started, progress, cancels, ranks, priorities (hashes), deadlines (zset), unique, holds,
-- done (hashes), expires (zset), the finished state's zset under the state's name (k.completed,
-- k.cancelled, k.expired).
-- Needs batch.lua, records.lua and unique.lua.

-- Removes stored jobs `ids` from the reserved zset and every hash of a job, and lets go of their
-- unique keys (not from the ready lists or `delayed`: a job leaves those when it is
-- taken; cancel.lua and the others that end a waiting job take it out themselves).
local function remove_stored(k, ids)
  batch('ZREM', k.reserved, ids)
  for _, hash in ipairs({ k.jobs, k.attempts, k.tokens, k.timeouts, k.started }) do batch('HDEL', hash, ids) end
  -- Most queues hold none of these (a job that reports progress, a cancel being asked, a priority
  -- (`priorities`: one placed by a release before, see priority.lua), an expiry, a unique key):
  -- one O(1) look instead of six deletes on the plain ack's path.
  -- Measured inside a script: 0.2 us for the EXISTS, 1.1 us for an HDEL of 50 ids, against about
  -- 460 us for a turn of 50 plain acks.
  if redis.call('EXISTS', k.progress, k.cancels, k.ranks, k.priorities, k.deadlines, k.holds) > 0 then
    batch('HDEL', k.progress, ids)
    batch('HDEL', k.cancels, ids)
    batch('HDEL', k.ranks, ids)
    batch('HDEL', k.priorities, ids)
    batch('ZREM', k.deadlines, ids)
    let_go_of_keys(k, ids, false)
  end
end

-- Writes the records, in `state`, of stored jobs `ids` that finish `now` (read before they go):
-- {"state","payload","result","progress","attempts","startedAt","finishedAt"}. keeps[i] is
-- { keep ms, most records kept, result ('' for none, '=' followed by its text) }. The state's
-- records beyond the smallest "most records kept" are forgotten, oldest first.
local function keep_finished(k, state, ids, keeps, now)
  local payloads = batch('HMGET', k.jobs, ids)
  local tries = batch('HMGET', k.attempts, ids)
  local starts = batch('HMGET', k.started, ids)
  local progress = batch('HMGET', k.progress, ids)
  local records, finished, expires = {}, {}, {}
  local most
  for i, id in ipairs(ids) do
    local keep_ms, max, result = keeps[i][1], keeps[i][2], keeps[i][3] or ''
    records[#records + 1] = id
    records[#records + 1] = cjson.encode({
      state = state,
      -- A list element without a stored payload was pushed by hand: it is its own payload.
      payload = payloads[i] or id,
      result = result == '' and cjson.null or string.sub(result, 2),
      progress = progress[i] or cjson.null,
      attempts = tonumber(tries[i]) or 0,
      startedAt = tonumber(starts[i]) or cjson.null,
      finishedAt = now,
    })
    finished[#finished + 1] = now
    finished[#finished + 1] = id
    expires[#expires + 1] = now + tonumber(keep_ms)
    expires[#expires + 1] = id
    most = math.min(most or tonumber(max), tonumber(max))
  end
  batch('HSET', k.done, records)
  batch('ZADD', k[state], finished)
  batch('ZADD', k.expires, expires)
  trim_records(k[state], k.done, k.expires, most, math.huge)
end

-- Cancels stored jobs `ids` now: keeps their `cancelled` records (keeps[i] as for keep_finished),
-- then removes them. Not from where they waited: the caller has popped them already, or takes them
-- out itself (remove_waiting in priority.lua; LREM scans a list: a take must not pay that).
local function cancel_stored(k, ids, keeps, now)
  keep_finished(k, 'cancelled', ids, keeps, now)
  remove_stored(k, ids)
end

-- The keep of a `cancels` entry ("<requested at>:<keep ms>:<most kept>"), as keep_finished reads it.
local function cancel_keep(entry)
  local _, keep_ms, max = string.match(entry, '^(%d+):(%d+):(%d+)$')
  return { keep_ms or 0, max or 0 }
end

-- Tells listeners (RedisDriver.onFinished) that jobs `ids` finished (completed with a record, were
-- cancelled or expired): one message for them all.
local function publish_finished(channel, ids)
  if #ids > 0 then redis.call('PUBLISH', channel, cjson.encode(ids)) end
end
