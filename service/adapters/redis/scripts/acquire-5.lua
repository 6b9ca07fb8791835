--[[
Acquire a slot of a counting semaphore that has a FIFO wait queue.

KEYS[1] holders  ZSET    member -> lease expiry (ms)
KEYS[2] queue    ZSET    member -> arrival sequence
KEYS[3] waits    HASH    member -> wait deadline (ms)
KEYS[4] fences   HASH    member -> fence it holds
KEYS[5] counter  STRING  monotonic; fences and arrival sequences both come from it
ARGV[1] member
ARGV[2] capacity
ARGV[3] now (ms)
ARGV[4] lease (ms)
ARGV[5] wait deadline (ms); 0 refuses instead of queueing

Returns {1, fence}              granted; a live holder gets its lease extended and its own fence back
        {2, position, holders}  queued; position counts from 1
        {0, holders}            busy, and not queued
The caller adds the scope to the scope index after a grant or a queueing (see claims.ts): the
index lives in another Cluster slot, so no script may touch it.
]]
local member = ARGV[1]
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local expiry_at = now + tonumber(ARGV[4])
local deadline = tonumber(ARGV[5])

local expiry = redis.call('ZSCORE', KEYS[1], member)
if expiry and tonumber(expiry) > now then
  redis.call('ZADD', KEYS[1], expiry_at, member)
  return {1, tonumber(redis.call('HGET', KEYS[4], member))}
end

local holders = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
-- First come, first served: only live waiters that arrived earlier stand ahead.
local ahead = 0
local queued = false
for _, waiter in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if waiter == member then
    queued = true
    break
  end
  if tonumber(redis.call('HGET', KEYS[3], waiter) or '0') > now then
    ahead = ahead + 1
  end
end

if holders + ahead < capacity then
  local fence = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[1], expiry_at, member)
  redis.call('HSET', KEYS[4], member, fence)
  redis.call('ZREM', KEYS[2], member)
  redis.call('HDEL', KEYS[3], member)
  return {1, fence}
end

if deadline > now then
  if not queued then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), member)
  end
  redis.call('HSET', KEYS[3], member, ARGV[5])
  return {2, ahead + 1, holders}
end
return {0, holders}
