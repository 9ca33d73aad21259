-- Prepended to the scripts that change a node's rooms. A node's rooms are counted from its
-- leases: `tessera:leases:{node}`, a sorted set of room keys scored by when each lease ends
-- (Redis's clock). A claim made for a node counts there from the claim on, before the node
-- runs the room; the node's heartbeat extends it while the room runs; it stops counting when
-- the room is released or its lease runs out.
-- Writes after TIME need effects replication: the default from Redis 5, asked for before.
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Records (or extends) the lease of `room` in the set `leases`; the set lives as long as its
-- longest lease (nodes may run with different leases).
local function hold(leases, room, lease_ms)
  redis.call('ZADD', leases, now_ms() + tonumber(lease_ms), room)
  local last = redis.call('ZRANGE', leases, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', leases, last[2])
end
-- Drops the leases that ran out and writes the count as `rooms` in the node's entry (if the
-- node is registered: an entry without its URL would not be a live node).
local function count(entry, leases)
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now_ms())
  local n = redis.call('ZCARD', leases)
  if redis.call('EXISTS', entry) == 1 then redis.call('HSET', entry, 'rooms', n) end
  return n
end
