-- Counting, shared by verify.lua (a key's own counters) and identity.lua (a key's and its
-- identity's counters together): scripts.rs puts this file before each of them. The window
-- arithmetic is domain/window.rs's, in the same integers.

-- An entry's limits, in its order, as {limit, window ms, hash field}: `"lm":[[limit,window,
-- "name"],...]`, or the single `"rl":[limit,window]` of an entry cached before named limits
-- (the limit `default`); and its quota `"q":[generation,stored,amount,code,"period"]`, or
-- nil. Plain finds first: most keys have no limits, and a plain find is far cheaper than a
-- pattern with captures.
local function counters_of(e)
  local has_lm = string.find(e, '"lm":[', 1, true)
  local has_rl = not has_lm and string.find(e, '"rl":[', 1, true)
  local has_q = string.find(e, '"q":[', 1, true)
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
  local quota = nil
  if has_q then
    local gen, stored, amount, code, period =
      string.match(e, '"q":%[(%d+),(%d+),(%d+),(%d),"([^"]*)"%]', has_q)
    if gen then quota = {gen, tonumber(stored), tonumber(amount), code, period} end
  end
  return limits, quota
end

-- Counts a request of `cost` against every subject's limits and quota, all or nothing: a
-- request refused by any limit or quota of any subject takes from none of them. A subject is
-- {limits, quota, windows hash key, quota counter key} (from counters_of). `periods` is the
-- index in ARGV just before the current refill periods (refill code c is at ARGV[periods +
-- c]); `quota_ttl` the quota counter's TTL in ms; `touch` whether to push the quota
-- counters' expiry out (the key's first use in a last-used window). Returns Redis's now in
-- ms, and per subject {quota left, flags, period, then previous and current count for each
-- limit}, as before this request; quota left -1 when the quota was not asked (none, or a
-- limit refused first); flags 1 exhausted, 2 refilled.
local function count(subjects, cost, periods, quota_ttl, touch)
  local need = cost
  if need < 1 then need = 1 end
  -- Windows are aligned on Redis's clock, which every instance shares.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local refused = false
  local replies, windows, advanced = {}, {}, {}
  for s, subject in ipairs(subjects) do
    local limits = subject[1]
    local reply = {-1, 0, ''}
    windows[s] = {}
    -- Whether any limit's window has moved on since its last write: only then is the
    -- hash's expiry pushed out (see below), saving a call on every other request.
    advanced[s] = false
    if #limits > 0 then
      local fields = {}
      for i, l in ipairs(limits) do fields[i] = l[3] end
      local stored_windows = redis.call('HMGET', subject[3], unpack(fields))
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
          advanced[s] = true
          if si == idx - 1 then prev = sc end
        end
        -- used × w = prev × (w − elapsed) + curr × w; passes when used + need ≤ limit.
        if prev * (w - elapsed) + (curr + need) * w > limit * w then refused = true end
        windows[s][i] = {idx, curr, prev}
        reply[#reply + 1] = prev
        reply[#reply + 1] = curr
      end
    end
    replies[s] = reply
  end
  if refused then return now, replies end
  -- Quotas: every one is asked (and a refill kept) before any is spent.
  local quotas = {}
  for s, subject in ipairs(subjects) do
    local q = subject[2]
    if q then
      local gen, stored, amount, code, period = q[1], q[2], q[3], q[4], q[5]
      local live = redis.call('HMGET', subject[4], 'r', 'p', 'g')
      local left, at = tonumber(live[1]), live[2]
      local fresh = not left or live[3] ~= gen
      if fresh then left, at = stored, period end
      local flags = 0
      local now_period = nil
      if code ~= '0' then now_period = ARGV[periods + tonumber(code)] end
      if now_period and now_period > at then
        left, at, flags = amount, now_period, 2
      end
      if left < need then
        flags = flags + 1
        refused = true
      end
      quotas[s] = {left, at, flags, fresh, gen}
    end
  end
  for s, subject in ipairs(subjects) do
    local q = quotas[s]
    if q then
      local left, at, flags, fresh, gen = q[1], q[2], q[3], q[4], q[5]
      if not refused then left = left - cost end
      redis.call('HSET', subject[4], 'r', string.format('%d', left), 'p', at, 'g', gen)
      -- The counter outlives the key's last use by its TTL: pushed out on a new counter, a
      -- refill, and the key's first use in each last-used window (once a minute at most),
      -- rather than on every request.
      if touch or flags ~= 0 or fresh then redis.call('PEXPIRE', subject[4], quota_ttl) end
      replies[s][1], replies[s][2], replies[s][3] = left, flags, at
    end
  end
  if refused or cost == 0 then return now, replies end
  for s, subject in ipairs(subjects) do
    local limits = subject[1]
    if #limits > 0 then
      local writes, longest = {}, 0
      for i, l in ipairs(limits) do
        local win = windows[s][i]
        writes[#writes + 1] = l[3]
        writes[#writes + 1] = struct.pack('<I4I4I4', win[1], win[2] + cost, win[3])
        if l[2] > longest then longest = l[2] end
      end
      redis.call('HSET', subject[3], unpack(writes))
      -- A window's count is read again as the previous window's, so it must outlive the
      -- next window too. Setting two of the longest windows whenever any limit's window
      -- moves on covers every limit: its current window began at or after that moment.
      if advanced[s] then redis.call('PEXPIRE', subject[3], 2 * longest) end
    end
  end
  return now, replies
end
