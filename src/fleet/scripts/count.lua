-- A node's heartbeat, after renewing its rooms: its entry's `rooms` from its leases.
-- ARGV[1] this node's entry   ARGV[2] this node's lease set
return count(ARGV[1], ARGV[2])
