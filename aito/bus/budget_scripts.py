"""The Lua scripts behind :class:`aito.bus.budgets.BudgetLedger`: each step in one round trip.

Reserving checks every limit and holds the amount on all of them or on none;
settling, releasing and expiring give a reservation's held amounts back (never below
zero, never creating a period key a seed should fill) and leave a tombstone, so a
repeat after a lost reply is a no-op. Money is integer micro-dollars. Each script
says its KEYS and ARGV; the ledger builds them.
"""

from __future__ import annotations

from aito.bus import redis_connection

# Shared Lua: give a reservation's held amounts back to its period keys (never below
# zero, never creating a key a seed should fill) and mark it `state`.
_GIVE_BACK = """
local function take(key, field, amount)
  if amount <= 0 or redis.call('exists', key) == 0 then return end
  local left = (tonumber(redis.call('hget', key, field)) or 0) - amount
  if left < 0 then left = 0 end
  redis.call('hset', key, field, string.format('%d', left))
end
local function give_back(record, state, tombstone)
  local r = redis.call('hmget', record, 'state', 'usd', 'tokens', 'keys')
  if r[1] ~= 'reserved' then return 0 end
  local usd, tokens = tonumber(r[2]), tonumber(r[3])
  for key in string.gmatch(r[4], '[^\\n]+') do
    take(key, 'usd_reserved', usd)
    take(key, 'tokens_reserved', tokens)
  end
  redis.call('hset', record, 'state', state)
  redis.call('expire', record, tombstone)
  return 1
end
local function expire_due(zset, now, prefix, tombstone)
  local due = redis.call('zrangebyscore', zset, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    give_back(prefix .. id, 'expired', tombstone)
    redis.call('zrem', zset, id)
  end
  return #due
end
"""

# KEYS: reservations zset, this reservation's record, the distinct period keys.
# ARGV: id, now, expires at, usd (micro), tokens, record key prefix, tombstone s,
# n limits, then per limit (KEYS index, usd limit or -1, tokens limit or -1), then
# per period key its ttl, then the periods as `scope|period key` lines. Returns {'1'}
# reserved, {'2', usd, tokens, expires at, periods} already reserved under this id,
# or {'0', limit index (0-based), unit, spent, reserved} refused.
RESERVE = redis_connection.Script(
    _GIVE_BACK
    + """
local id, now, expires_at = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local usd, tokens = tonumber(ARGV[4]), tonumber(ARGV[5])
local tombstone, n = tonumber(ARGV[7]), tonumber(ARGV[8])
expire_due(KEYS[1], now, ARGV[6], tombstone)
local known = redis.call('hmget', KEYS[2], 'usd', 'tokens', 'expires_at', 'periods')
if known[1] then return {'2', known[1], known[2], known[3], known[4]} end
for i = 0, n - 1 do
  local at = 9 + i * 3
  local key = KEYS[tonumber(ARGV[at])]
  local usd_limit, token_limit = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local h = redis.call('hmget', key, 'usd_spent', 'usd_reserved', 'tokens_spent',
                       'tokens_reserved')
  local us, ur = tonumber(h[1]) or 0, tonumber(h[2]) or 0
  local ts, tr = tonumber(h[3]) or 0, tonumber(h[4]) or 0
  if usd_limit >= 0 and us + ur + usd > usd_limit then
    return {'0', tostring(i), 'usd', string.format('%d', us), string.format('%d', ur)}
  end
  if token_limit >= 0 and ts + tr + tokens > token_limit then
    return {'0', tostring(i), 'tokens', string.format('%d', ts), string.format('%d', tr)}
  end
end
local ttl_at = 9 + n * 3
local held = {}
for k = 3, #KEYS do
  redis.call('hincrby', KEYS[k], 'usd_reserved', ARGV[4])
  redis.call('hincrby', KEYS[k], 'tokens_reserved', ARGV[5])
  redis.call('hsetnx', KEYS[k], 'usd_spent', '0')
  redis.call('hsetnx', KEYS[k], 'tokens_spent', '0')
  redis.call('expire', KEYS[k], ARGV[ttl_at + k - 3])
  held[#held + 1] = KEYS[k]
end
redis.call('hset', KEYS[2], 'state', 'reserved', 'usd', ARGV[4], 'tokens', ARGV[5],
           'expires_at', expires_at, 'keys', table.concat(held, '\\n'),
           'periods', ARGV[#ARGV])
redis.call('zadd', KEYS[1], expires_at, id)
return {'1'}
"""
)

# KEYS: reservations zset, the record, its period keys. ARGV: id, usd (micro), tokens,
# tombstone s, per period key its ttl. Returns 1 if recorded, 0 if settled/released before.
SETTLE = redis_connection.Script(
    _GIVE_BACK
    + """
local r = redis.call('hmget', KEYS[2], 'state', 'usd', 'tokens')
if r[1] == 'settled' or r[1] == 'released' then return 0 end
local held_usd, held_tokens = 0, 0
if r[1] == 'reserved' then held_usd, held_tokens = tonumber(r[2]), tonumber(r[3]) end
for k = 3, #KEYS do
  take(KEYS[k], 'usd_reserved', held_usd)
  take(KEYS[k], 'tokens_reserved', held_tokens)
  redis.call('hincrby', KEYS[k], 'usd_spent', ARGV[2])
  redis.call('hincrby', KEYS[k], 'tokens_spent', ARGV[3])
  redis.call('expire', KEYS[k], ARGV[4 + k - 2])
end
redis.call('hset', KEYS[2], 'state', 'settled', 'spent_usd', ARGV[2], 'spent_tokens', ARGV[3])
redis.call('expire', KEYS[2], ARGV[4])
redis.call('zrem', KEYS[1], ARGV[1])
return 1
"""
)

# KEYS: reservations zset, the record. ARGV: id, usd (micro), tokens, tombstone s, day
# ttl, month ttl. Returns 1 if recorded, 0 if settled/released before or unknown.
SETTLE_ONCE = redis_connection.Script(
    _GIVE_BACK
    + """
local r = redis.call('hmget', KEYS[2], 'state', 'usd', 'tokens', 'keys')
if not r[1] or r[1] == 'settled' or r[1] == 'released' then return 0 end
local held_usd, held_tokens = 0, 0
if r[1] == 'reserved' then held_usd, held_tokens = tonumber(r[2]), tonumber(r[3]) end
for key in string.gmatch(r[4], '[^\\n]+') do
  if redis.call('exists', key) == 1 then
    take(key, 'usd_reserved', held_usd)
    take(key, 'tokens_reserved', held_tokens)
    redis.call('hincrby', key, 'usd_spent', ARGV[2])
    redis.call('hincrby', key, 'tokens_spent', ARGV[3])
    if string.match(key, '%d%d%d%d%-%d%d%-%d%d$') then
      redis.call('expire', key, ARGV[5])
    else
      redis.call('expire', key, ARGV[6])
    end
  end
end
redis.call('hset', KEYS[2], 'state', 'settled', 'spent_usd', ARGV[2], 'spent_tokens', ARGV[3])
redis.call('expire', KEYS[2], ARGV[4])
redis.call('zrem', KEYS[1], ARGV[1])
return 1
"""
)

# KEYS: reservations zset, the record. ARGV: id, tombstone s. Returns 1 if given back.
RELEASE = redis_connection.Script(
    _GIVE_BACK
    + """
local done = give_back(KEYS[2], 'released', tonumber(ARGV[2]))
redis.call('zrem', KEYS[1], ARGV[1])
return done
"""
)

# KEYS: reservations zset. ARGV: now, record key prefix, tombstone s. Returns how many.
EXPIRE = redis_connection.Script(
    _GIVE_BACK
    + """
return expire_due(KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))
"""
)

# KEYS: a period key. ARGV: usd (micro), tokens, ttl. Returns 1 if the key was created.
SEED = redis_connection.Script("""
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'usd_spent', ARGV[1], 'tokens_spent', ARGV[2],
           'usd_reserved', '0', 'tokens_reserved', '0')
redis.call('expire', KEYS[1], ARGV[3])
return 1
""")
