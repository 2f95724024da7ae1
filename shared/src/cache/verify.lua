-- The verify path's one round trip: reads the entry, marks the key used, and for a key with
-- limits (active and unexpired) counts the request with count() from counters.lua, which
-- scripts.rs puts before this file. Redis runs a script alone, so counting is exact
-- whatever the concurrency. The argument layout and the reply are stated once, in
-- scripts.rs, next to the Rust that builds the call and reads the reply.
local e = redis.call('GET', KEYS[1])
local first = 0
if ARGV[4] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  first = 1
end
-- Every request a key is presented with is counted in its usage hash (ops/usage.rs); valid
-- ones are then what is left after the refusals, which are counted by a second call. A miss
-- is counted after DynamoDB's read, only for a key that exists: no made-up key leaves a
-- count behind. The hash's expiry is set when a count starts a field (a new hour, or a
-- hash a fold has just taken away), not on every request.
if ARGV[7] ~= '' and e and e ~= '!' then
  if redis.call('HINCRBY', KEYS[5], ARGV[7], 1) == 1 then
    redis.call('EXPIRE', KEYS[5], ARGV[8])
  end
end
if not e or e == '!' then return {first, e} end
local limits, quota = counters_of(e)
if #limits == 0 and not quota then return {first, e} end
-- A key of an identity is counted by identity.lua, with its identity, in the identity's
-- hash slot; a rotated key in its grace period against its replacement's limits (a second
-- call, to the replacement's slot), unless it is told to count on its own.
if string.find(e, '"idt":"', 1, true) then return {first, e} end
if ARGV[5] ~= '1' and string.find(e, '"to":"', 1, true) then return {first, e} end
if not string.find(e, '"st":"a"', 1, true) then return {first, e} end
-- A plain find, then a match anchored where it points: an unanchored pattern is retried at
-- every position of the entry (0.87 µs of Redis's time on an entry without expiry, against
-- 0.23 µs this way: bench/PROFILE.md).
local at = string.find(e, '"exp":', 1, true)
local exp = at and string.match(e, '^%-?%d+', at + 6)
if exp and tonumber(exp) <= tonumber(ARGV[2]) then return {first, e} end
local now, replies = count({{limits, quota, KEYS[3], KEYS[4]}}, tonumber(ARGV[6]), 8,
  ARGV[3], first == 1)
local reply = {first, e, now}
for _, v in ipairs(replies[1]) do reply[#reply + 1] = v end
return reply
