-- The verify path's one round trip: reads the entry, marks the key used, and for a key with
-- limits (active and unexpired) checks the request against every named limit's sliding
-- window and its quota, and counts it only when all of them pass. Redis runs a script
-- alone, so counting is exact whatever the concurrency. The argument layout and the reply
-- are stated once, in scripts.rs, next to the Rust that builds the call and reads the
-- reply; the window arithmetic is domain/window.rs's, in the same integers.
local e = redis.call('GET', KEYS[1])
local first = 0
if ARGV[4] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  first = 1
end
if not e or e == '!' then return {first, e} end
-- Plain finds first: most keys have no limits, and a plain find is far cheaper than a
-- pattern with captures.
local has_lm = string.find(e, '"lm":[', 1, true)
local has_rl = not has_lm and string.find(e, '"rl":[', 1, true)
local has_q = string.find(e, '"q":[', 1, true)
if not has_lm and not has_rl and not has_q then return {first, e} end
-- The limits, in the entry's order: `"lm":[[limit,window,"name"],...]`, or the single
-- `"rl":[limit,window]` of an entry cached before named limits (the limit `default`).
local limits = {}
if has_lm then
  local pos = has_lm + 6
  while true do
    local _, stop, l, w, n = string.find(e, '^%[(%d+),(%d+),"([%w_%-]+)"%]', pos)
    if not stop then break end
    limits[#limits + 1] = {tonumber(l), tonumber(w) * 1000, n .. ':' .. w}
    if string.sub(e, stop + 1, stop + 1) ~= ',' then break end
    pos = stop + 2
  end
elseif has_rl then
  local l, w = string.match(e, '"rl":%[(%d+),(%d+)%]', has_rl)
  if l then limits[1] = {tonumber(l), tonumber(w) * 1000, 'default:' .. w} end
end
local gen, stored, amount, code, period
if has_q then
  gen, stored, amount, code, period =
    string.match(e, '"q":%[(%d+),(%d+),(%d+),(%d),"([^"]*)"%]', has_q)
end
if #limits == 0 and not gen then return {first, e} end
-- A rotated key in its grace period counts against its replacement's limits (a second
-- call, to the replacement's slot), unless it is told to count on its own.
if ARGV[5] ~= '1' and string.find(e, '"to":"', 1, true) then return {first, e} end
if not string.find(e, '"st":"a"', 1, true) then return {first, e} end
local exp = string.match(e, '"exp":(%-?%d+)')
if exp and tonumber(exp) <= tonumber(ARGV[2]) then return {first, e} end
-- The request's cost: it passes a limit with at least that left (at least 1 for a check
-- of cost 0), and a request refused by any limit or by the quota takes from none of them.
local cost = tonumber(ARGV[6])
local need = cost
if need < 1 then need = 1 end
-- Windows are aligned on Redis's clock, which every instance shares.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reply = {first, e, now, -1, 0, ''}
local refused = false
local windows = {}
-- Whether any limit's window has moved on since its last write: only then is the hash's
-- expiry pushed out (see below), saving a call on every other request.
local advanced = false
if #limits > 0 then
  local fields = {}
  for i, l in ipairs(limits) do fields[i] = l[3] end
  local stored_windows = redis.call('HMGET', KEYS[3], unpack(fields))
  for i, l in ipairs(limits) do
    local limit, w = l[1], l[2]
    local idx = math.floor(now / w)
    local elapsed = now - idx * w
    local prev, curr = 0, 0
    local v = stored_windows[i]
    local si, sc, sp
    -- Three little-endian u32s: packing is cheaper than formatting and matching text.
    if v and #v == 12 then si, sc, sp = struct.unpack('<I4I4I4', v) end
    if si == idx then
      curr, prev = sc, sp
    else
      advanced = true
      if si == idx - 1 then prev = sc end
    end
    -- used × w = prev × (w − elapsed) + curr × w; passes when used + need ≤ limit.
    if prev * (w - elapsed) + (curr + need) * w > limit * w then refused = true end
    windows[i] = {idx, curr, prev}
    reply[#reply + 1] = prev
    reply[#reply + 1] = curr
  end
end
if refused then return reply end
if gen then
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
    refused = true
  end
  redis.call('HSET', KEYS[4], 'r', string.format('%d', left), 'p', at, 'g', gen)
  -- The counter outlives the key's last use by its TTL: pushed out on a new counter, a
  -- refill, and the key's first use in each last-used window (once a minute at most),
  -- rather than on every request.
  if first == 1 or flags ~= 0 or live[3] ~= gen then redis.call('PEXPIRE', KEYS[4], ARGV[3]) end
  reply[4], reply[5], reply[6] = left, flags, at
end
if refused or cost == 0 or #limits == 0 then return reply end
local writes, longest = {}, 0
for i, l in ipairs(limits) do
  local win = windows[i]
  writes[#writes + 1] = l[3]
  writes[#writes + 1] = struct.pack('<I4I4I4', win[1], win[2] + cost, win[3])
  if l[2] > longest then longest = l[2] end
end
redis.call('HSET', KEYS[3], unpack(writes))
-- A window's count is read again as the previous window's, so it must outlive the next
-- window too. Setting two of the longest windows whenever any limit's window moves on
-- covers every limit: a limit's current window began at or after the last such moment.
if advanced then redis.call('PEXPIRE', KEYS[3], 2 * longest) end
return reply
