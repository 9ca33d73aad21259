-- A room closed: its key goes, unless another node holds it by now.
-- KEYS[1] the room's key   ARGV[1] this node's id
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
