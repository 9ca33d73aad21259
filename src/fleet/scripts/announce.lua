-- A node's heartbeat: sets the registry's marker if it is missing, and when the node had seen
-- the marker before (Redis restarted empty), the settling key in the same step, so no claim
-- can come between the two.
-- ARGV[1] the marker   ARGV[2] this node's id   ARGV[3] the settling key
-- ARGV[4] how long claims wait, ms   ARGV[5] '1' when this node had seen the marker
-- Returns 1 when the marker was missing.
if not redis.call('SET', ARGV[1], ARGV[2], 'NX') then return 0 end
if ARGV[5] == '1' then redis.call('SET', ARGV[3], 1, 'PX', ARGV[4]) end
return 1
