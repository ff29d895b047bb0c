-- Expiry (SPEC 12). A job pushed with an expiry is in `deadlines` (id -> its deadline, ms) until a
-- try of it starts: turn.lua takes it out then, so a job that started in time never expires. A
-- take that pops one past its deadline does not hand it out, and ends it here as an `expired`
-- record; so does expire.lua (Records.prune) for one that no worker took.
-- Needs batch.lua, records.lua, unique.lua and finish.lua.

-- Ends stored jobs `ids` now as `expired` records, kept as `keep` ({ keep ms, most records kept })
-- says, and removes them (the caller has taken them out of the ready list, `prioritized` and
-- `delayed` already). Lets go of their unique keys with them.
local function expire_stored(k, ids, keep, now)
  local keeps = {}
  for i = 1, #ids do keeps[i] = keep end
  keep_finished(k, 'expired', ids, keeps, now)
  remove_stored(k, ids)
end

-- Of jobs `ids` a take has just popped, ends those past their deadline (expire_stored) and adds
-- their ids to `finished`; returns the others, in order. One EXISTS when no job of the queue has
-- a deadline.
local function drop_expired(k, ids, keep, now, finished)
  if #ids == 0 or redis.call('EXISTS', k.deadlines) == 0 then return ids end
  local deadlines = batch('ZMSCORE', k.deadlines, ids)
  local runnable, late = {}, {}
  for i, id in ipairs(ids) do
    local deadline = tonumber(deadlines[i])
    if deadline and deadline <= now then
      late[#late + 1] = id
      finished[#finished + 1] = id
    else
      runnable[#runnable + 1] = id
    end
  end
  if #late > 0 then expire_stored(k, late, keep, now) end
  return runnable
end
