-- Prepended to the scripts that change a node's rooms. A node's rooms are counted from its
-- leases: `tessera:leases:{node}`, a sorted set of room keys scored by when each lease ends
-- (Redis's clock), so a claim made for a node counts there until the node runs the room or
-- the lease runs out, whatever the node's heartbeat saw.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Records (or extends) the lease of `room` in the set `leases`.
local function hold(leases, room, lease_ms)
  redis.call('ZADD', leases, now_ms() + tonumber(lease_ms), room)
  redis.call('PEXPIRE', leases, lease_ms)
end
-- Drops the leases that ran out and writes the count as `rooms` in the node's entry (if the
-- node is registered: an entry without its URL would not be a live node).
local function count(node, leases)
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now_ms())
  local n = redis.call('ZCARD', leases)
  if redis.call('EXISTS', node) == 1 then redis.call('HSET', node, 'rooms', n) end
  return n
end
