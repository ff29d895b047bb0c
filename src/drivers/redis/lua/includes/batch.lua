-- One command for many ids (a bulk of 1,000 or a turn carrying fifty acks: a call per job each
-- would be most of the script's cost), in chunks under Lua's limit on unpack(); the replies of a
-- reading command are joined. Pairs stay whole: the chunk size is even.
local function batch(command, key_name, args)
  local out = {}
  for i = 1, #args, 4000 do
    local reply = redis.call(command, key_name, unpack(args, i, math.min(i + 3999, #args)))
    if type(reply) == 'table' then
      for _, value in ipairs(reply) do out[#out + 1] = value end
    end
  end
  return out
end
