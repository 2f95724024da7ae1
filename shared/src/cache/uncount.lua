-- Gives back what identity.lua counted for a request it should not have counted: a key of an
-- identity is counted in the same round trip as its read, on what its instance last saw of
-- it (cache/ahead.rs); when the read shows the key has changed since (revoked, rotated, its
-- limits changed, moved out of its identity), the count is taken back here and the request
-- judged afresh. counters_of() is counters.lua's, put before this file by scripts.rs.
-- Layout: scripts.rs.
local cost, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local function give_back(limits, quota, windows, counter, period)
  for _, l in ipairs(limits) do
    local v = redis.call('HGET', windows, l[3])
    if v and #v == 12 then
      local si, sc, sp = struct.unpack('<I4I4I4', v)
      local idx = math.floor(now / l[2])
      -- The window counted in, whether it is still the current one or has just become the
      -- previous one; an older count no longer weighs on any decision.
      if si == idx then
        sc = math.max(sc - cost, 0)
      elseif si == idx + 1 then
        sp = math.max(sp - cost, 0)
      else
        si = nil
      end
      if si then redis.call('HSET', windows, l[3], struct.pack('<I4I4I4', si, sc, sp)) end
    end
  end
  -- A quota is given back only in the period and generation it was taken from: a refill or
  -- a new setting since has replaced the count anyway. A request that took its cost was
  -- asked of every quota, so each one has its period here.
  if quota then
    local live = redis.call('HMGET', counter, 'p', 'g')
    if live[1] == period and live[2] == quota[1] then
      redis.call('HINCRBY', counter, 'r', cost)
    end
  end
end
local key_limits, key_quota = counters_of(ARGV[3])
local limits, quota = counters_of(ARGV[4])
give_back(key_limits, key_quota, KEYS[1], KEYS[2], ARGV[5])
give_back(limits, quota, KEYS[3], KEYS[4], ARGV[6])
return 1
