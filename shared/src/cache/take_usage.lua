-- Takes a key's usage counts for a fold (ops/usage.rs), in one step: Redis runs a script
-- alone, so no count lands between the read and the move. Counts a fold took and did not
-- finish stay where they are, under their fold's id, until a fold finishes them. Layout and
-- reply: scripts.rs.
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], '#', ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return redis.call('HGETALL', KEYS[2])
