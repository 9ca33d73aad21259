-- A room closed: its key goes, unless another node holds it by now; either way it no longer
-- counts here.
-- KEYS[1] the room's key   ARGV[1] this node's id   ARGV[2] this node's entry
-- ARGV[3] this node's lease set
redis.call('ZREM', ARGV[3], KEYS[1])
count(ARGV[2], ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
