--[[
Drop the holders whose lease ran out and the waiters whose wait deadline passed, and say whether
anybody still holds or waits (the caller then forgets the scope in the scope index, which lives in
another Cluster slot; see claims.ts). The fence counter is kept forever, so a fence is never reused.

KEYS[1] holders  ZSET  member -> lease expiry (ms)
KEYS[2] queue    ZSET  member -> arrival sequence
KEYS[3] waits    HASH  member -> wait deadline (ms)
KEYS[4] fences   HASH  member -> fence it holds
ARGV[1] now (ms)

Returns {{expired holder, ...}, {lapsed waiter, ...}, emptied} with emptied 1 when nobody holds or
waits any more, else 0
]]
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, holder in ipairs(expired) do
  redis.call('ZREM', KEYS[1], holder)
  redis.call('HDEL', KEYS[4], holder)
end

local lapsed = {}
for _, waiter in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if tonumber(redis.call('HGET', KEYS[3], waiter) or '0') <= now then
    redis.call('ZREM', KEYS[2], waiter)
    redis.call('HDEL', KEYS[3], waiter)
    table.insert(lapsed, waiter)
  end
end

local emptied = 0
if redis.call('ZCARD', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then
  emptied = 1
end
return {expired, lapsed, emptied}
