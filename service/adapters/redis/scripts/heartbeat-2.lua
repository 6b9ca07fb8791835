--[[
Extend a holder's lease, if it still holds the slot under the fence it was given.

KEYS[1] holders  ZSET  member -> lease expiry (ms)
KEYS[2] fences   HASH  member -> fence it holds
ARGV[1] member
ARGV[2] fence
ARGV[3] now (ms)
ARGV[4] lease (ms)

Returns  1 extended
        -1 not held (never granted, released, or the lease ran out)
        -2 stale fence (the slot was lost and granted again under a newer fence)
]]
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= tonumber(ARGV[3]) then
  return -1
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return -2
end
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
return 1
