-- The verify path's one round trip: reads the entry, marks the key used, and for a key with
-- limits (active and unexpired) counts the request against its rate window and its quota.
-- Redis runs a script alone, so counting is exact whatever the concurrency. The argument
-- layout and the reply are stated once, in scripts.rs, next to the Rust that builds the
-- call and reads the reply.
local e = redis.call('GET', KEYS[1])
local first = 0
if ARGV[4] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  first = 1
end
if not e or e == '!' then return {first, e} end
-- Plain finds first: most keys have no limits, and a plain find is far cheaper than a
-- pattern with captures.
local has_rl = string.find(e, '"rl":[', 1, true)
local has_q = string.find(e, '"q":[', 1, true)
if not has_rl and not has_q then return {first, e} end
local limit, window, gen, stored, amount, code, period
if has_rl then limit, window = string.match(e, '"rl":%[(%d+),(%d+)%]', has_rl) end
if has_q then
  gen, stored, amount, code, period =
    string.match(e, '"q":%[(%d+),(%d+),(%d+),(%d),"([^"]*)"%]', has_q)
end
if not limit and not gen then return {first, e} end
-- A rotated key in its grace period counts against its replacement's limits (a second
-- call, to the replacement's slot), unless it is told to count on its own.
if ARGV[5] ~= '1' and string.find(e, '"to":"', 1, true) then return {first, e} end
if not string.find(e, '"st":"a"', 1, true) then return {first, e} end
local exp = string.match(e, '"exp":(%-?%d+)')
if exp and tonumber(exp) <= tonumber(ARGV[2]) then return {first, e} end
-- The request's cost (1 unless the caller said otherwise): it is refused by a limit with
-- less than that left, or with nothing left for a check of cost 0, and a refused request
-- takes nothing from the limit that refused it. For cost 1 each step below is the one it
-- was before costs existed (INCRBY 1 is INCR; `count - cost + need > limit` is
-- `count > limit`; a give-back never happens).
local cost = tonumber(ARGV[6])
local need = cost
if need < 1 then need = 1 end
local count, ttl = 0, 0
if limit then
  limit = tonumber(limit)
  local window_ms = tonumber(window) * 1000
  if cost > 0 then
    count = redis.call('INCRBY', KEYS[3], cost)
  else
    count = tonumber(redis.call('GET', KEYS[3]) or 0)
  end
  ttl = redis.call('PTTL', KEYS[3])
  -- A new window, or one opened under a longer window than the key has now. A check of
  -- cost 0 opens none.
  if ttl < 0 or ttl > window_ms then
    if count > 0 then redis.call('SET', KEYS[3], count, 'PX', window_ms) end
    ttl = window_ms
  end
  if count - cost + need > limit then
    -- Something was left, but less than the cost: give the cost back, deleting a window
    -- this request opened, so it leaves no trace. (Never for cost 0 or 1.)
    if count - cost < limit then
      if count == cost then redis.call('DEL', KEYS[3]) else redis.call('DECRBY', KEYS[3], cost) end
    end
    return {first, e, count, ttl, -1, 0, ''}
  end
end
if not gen then return {first, e, count, ttl, -1, 0, ''} end
local live = redis.call('HMGET', KEYS[4], 'r', 'p', 'g')
local left, at = tonumber(live[1]), live[2]
if not left or live[3] ~= gen then
  left, at = tonumber(stored), period
end
local flags = 0
-- The current period of this refill code (0: no refill) follows the fixed arguments.
local now_period = nil
if code ~= '0' then now_period = ARGV[6 + tonumber(code)] end
if now_period and now_period > at then
  left, at, flags = tonumber(amount), now_period, 2
end
if left >= need then
  left = left - cost
else
  flags = flags + 1
  -- Refused by the quota: a cost above 1 is given back to the rate window too. (A cost-1
  -- request refused by its quota still counts once in the rate window, as every request
  -- did before costs existed.)
  if cost > 1 and limit then
    if count == cost then redis.call('DEL', KEYS[3]) else redis.call('DECRBY', KEYS[3], cost) end
  end
end
redis.call('HSET', KEYS[4], 'r', string.format('%d', left), 'p', at, 'g', gen)
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return {first, e, count, ttl, left, flags, at}
