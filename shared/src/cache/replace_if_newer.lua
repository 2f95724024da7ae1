-- Replaces a key's cache entry unless the cached one has the same or a newer version, so
-- that of two racing changes (an update and a revoke, say) the later one always wins in the
-- cache, in whatever order their writes arrive. Negative entries have no version and always
-- lose. With ARGV[4] = 1 an absent entry stays absent (a replicated change that is not a
-- revoke: the next miss reads DynamoDB instead). The argument layout is stated once, in scripts.rs, next to the Rust that builds the
-- call.
local current = redis.call('GET', KEYS[1])
if not current and ARGV[4] == '1' then
  return 0
end
if current then
  local v = string.match(current, '"v":(%d+)')
  if v and tonumber(v) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
