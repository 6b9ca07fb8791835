--[[
Give a slot back (or leave the wait queue), and say which waiters may take a slot now.

KEYS[1] holders  ZSET  member -> lease expiry (ms)
KEYS[2] queue    ZSET  member -> arrival sequence
KEYS[3] waits    HASH  member -> wait deadline (ms)
KEYS[4] fences   HASH  member -> fence it holds
ARGV[1] member
ARGV[2] fence it was granted; '' when it only ever waited
ARGV[3] capacity
ARGV[4] now (ms)

Returns {status, {waiter, ...}} with status
         1 released (or left the queue)
        -1 neither holding nor waiting
        -2 stale fence: the slot is held under a newer fence and is left alone
  and the live waiters, in arrival order, that the free slots now belong to.
]]
local member = ARGV[1]
local now = tonumber(ARGV[4])
local left_queue = redis.call('ZREM', KEYS[2], member)
redis.call('HDEL', KEYS[3], member)

local status = -1
if redis.call('ZSCORE', KEYS[1], member) then
  if redis.call('HGET', KEYS[4], member) == ARGV[2] then
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[4], member)
    status = 1
  else
    status = -2
  end
elseif left_queue == 1 then
  status = 1
end

local free = tonumber(ARGV[3]) - redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[4], '+inf')
local waiting = {}
if free > 0 then
  for _, waiter in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if #waiting >= free then
      break
    end
    if tonumber(redis.call('HGET', KEYS[3], waiter) or '0') > now then
      table.insert(waiting, waiter)
    end
  end
end
return {status, waiting}
