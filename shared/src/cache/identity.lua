-- The second round trip of a key that belongs to an identity, in the identity's hash slot:
-- reads the identity's entry and counts the request against the key's own limits and the
-- identity's together, all or nothing, with count() from counters.lua (put before this
-- file by scripts.rs). The key's own counters live in this slot too, so the one script sees
-- every counter the request must pass. Layout and reply: scripts.rs.
local ie = redis.call('GET', KEYS[1])
if not ie then return {1} end
if ie == '!' then return {3} end
if not string.find(ie, '"st":"a"', 1, true) then return {2, ie} end
local key_limits, key_quota = counters_of(ARGV[4])
local limits, quota = counters_of(ie)
local now, replies = count({
  {key_limits, key_quota, KEYS[4], KEYS[5]},
  {limits, quota, KEYS[2], KEYS[3]},
}, tonumber(ARGV[2]), 4, ARGV[1], ARGV[3] == '1')
local reply = {0, ie, now}
for _, r in ipairs(replies) do
  for _, v in ipairs(r) do reply[#reply + 1] = v end
end
return reply
