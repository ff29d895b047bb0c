-- Records as find.lua and list.lua reply them: 7 values each, false for none:
--   id, kind, text, attempts, at, started, progress
--   kind 'ready', 'delayed' or 'reserved': text is the payload, attempts the tries counted, at when
--     it may run or when its lease runs out, started when its current try started, progress what
--     it last reported;
--   kind 'done': text is the record JSON (see turn.lua);
--   kind 'failed': text is the failed record JSON, at when it failed.
-- `k` names the queue's keys: jobs, attempts, started, progress (hashes). Needs batch.lua.

-- Appends the records of stored jobs `ids`, all in `state`, with their `ats` (or none), to `reply`.
local function append_waiting(reply, k, ids, state, ats)
  if #ids == 0 then return end
  local payloads = batch('HMGET', k.jobs, ids)
  local attempts = batch('HMGET', k.attempts, ids)
  local started = batch('HMGET', k.started, ids)
  local progress = batch('HMGET', k.progress, ids)
  for i, id in ipairs(ids) do
    -- A list element without a stored payload was pushed by hand: it is its own payload.
    local record = { id, state, payloads[i] or id, tonumber(attempts[i]) or 0, ats[i] or false, tonumber(started[i]) or false, progress[i] or false }
    for _, value in ipairs(record) do reply[#reply + 1] = value end
  end
end

-- Appends finished records `ids` of `kind` ('done' or 'failed'), read from hash `records`, to
-- `reply`; ids whose record is gone are left out.
local function append_finished(reply, records, ids, kind, ats)
  if #ids == 0 then return end
  local texts = batch('HMGET', records, ids)
  for i, id in ipairs(ids) do
    if texts[i] then
      local record = { id, kind, texts[i], false, ats[i] or false, false, false }
      for _, value in ipairs(record) do reply[#reply + 1] = value end
    end
  end
end
