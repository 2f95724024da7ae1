-- Deletes the counts a fold took, once DynamoDB has them, unless they are another fold's.
if redis.call('HGET', KEYS[1], '#') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
