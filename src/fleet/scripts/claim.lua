-- The owner of a room, claiming it for a candidate when it has none (atomic: Redis runs a
-- script alone, so two nodes never both own a room).
-- KEYS[1]  the room's key            ARGV[1]  prefix of node keys
-- ARGV[2]  candidate node id ('' = only look)   ARGV[3]  lease, ms
-- ARGV[4]  candidate's URL           ARGV[5]  the asking node's id
-- ARGV[6]  the registry's marker     ARGV[7]  the settling key
-- ARGV[8]  prefix of lease sets
-- Returns {owner id, owner URL}; false (no owner, and no claim); or {'', ''} while the
-- registry is settling (just restarted: the nodes have not all re-registered their rooms).
local owner = redis.call('GET', KEYS[1])
if owner then
  local url = redis.call('HGET', ARGV[1] .. owner, 'url')
  if url then return {owner, url} end
  -- Its node expired (died) before the room's lease did: the room is free.
end
if ARGV[2] == '' then return false end
if redis.call('EXISTS', ARGV[6]) == 0 or redis.call('EXISTS', ARGV[7]) == 1 then return {'', ''} end
if ARGV[2] ~= ARGV[5] and redis.call('EXISTS', ARGV[1] .. ARGV[2]) == 0 then return false end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
-- Counted now, so rooms placed before the candidate runs this one spread too.
local leases = ARGV[8] .. ARGV[2]
hold(leases, KEYS[1], ARGV[3])
count(ARGV[1] .. ARGV[2], leases)
return {ARGV[2], ARGV[4]}
