-- A node's heartbeat for a room it runs: extends its lease, or re-claims a room whose key
-- expired (Redis restarted, or was out of reach longer than the lease).
-- KEYS[1] the room's key   ARGV[1] this node's id   ARGV[2] lease, ms
-- ARGV[3] this node's lease set
-- Returns 1 when the room is this node's, else the id of the node that holds it now.
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  redis.call('ZREM', ARGV[3], KEYS[1])
  return owner
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
hold(ARGV[3], KEYS[1], ARGV[2])
return 1
