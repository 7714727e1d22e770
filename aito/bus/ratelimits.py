"""Model rate limits per agent: `ratelimit:claude:{agent}`, two token buckets in one hash.

Requests per minute and tokens per minute refill continuously; a call is allowed
only when both buckets hold enough, and then both are drawn from, atomically in a
Lua script, so every process sharing the Redis shares the budget. Time is passed
in (``now``), so tests and replays are deterministic; a caller whose clock runs
behind another's simply refills nothing until it catches up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aito.bus import keys, models, redis_connection
from aito.bus import redis as adapter


class RateLimiter:
    """``acquire(agent, tokens=, now=)`` → allowed, or how many seconds to wait."""

    def __init__(
        self,
        bus: adapter.RedisBus,
        *,
        default: models.RateLimits,
        per_agent: Mapping[str, models.RateLimits] | None = None,
    ) -> None:
        self._conn = bus.connection
        self._default = default
        self._per_agent = dict(per_agent or {})

    def limits(self, agent: str) -> models.RateLimits:
        return self._per_agent.get(agent, self._default)

    def acquire(self, agent: str, *, tokens: int, now: dt.datetime) -> models.RateDecision:
        """Take one request and ``tokens`` tokens from ``agent``'s budget if both are there."""
        limits = self.limits(agent)
        if tokens < 0:
            raise ValueError("tokens must be >= 0")
        if tokens > limits.tokens_per_minute:
            raise ValueError(
                f"{tokens} tokens exceed {agent}'s whole budget of "
                f"{limits.tokens_per_minute} per minute; split the request"
            )
        key = self._conn.key(keys.rate_limit(agent))
        args = [
            repr(models.epoch(now)),
            limits.requests_per_minute,
            limits.tokens_per_minute,
            tokens,
        ]
        reply: Any = self._conn.run(lambda r: _ACQUIRE(r, keys=[key], args=args), op="rate limit")
        allowed, wait = int(reply[0]) == 1, float(reply[1])
        return models.RateDecision(allowed=allowed, retry_after=0.0 if allowed else wait)

    def remaining(self, agent: str, *, now: dt.datetime) -> tuple[float, float]:
        """(requests, tokens) available to ``agent`` at ``now`` (nothing is taken)."""
        limits = self.limits(agent)
        key = self._conn.key(keys.rate_limit(agent))
        args = [repr(models.epoch(now)), limits.requests_per_minute, limits.tokens_per_minute, -1]
        reply: Any = self._conn.run(lambda r: _ACQUIRE(r, keys=[key], args=args), op="rate limit")
        return float(reply[2]), float(reply[3])


# KEYS[1] bucket hash; ARGV now (epoch s), requests/min, tokens/min, tokens wanted
# (-1: only report). Returns {allowed, retry after s, requests left, tokens left} as
# strings (Lua numbers would be truncated to integers).
_ACQUIRE = redis_connection.Script("""
local now, rpm, tpm, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
                            tonumber(ARGV[4])
local state = redis.call('hmget', KEYS[1], 'requests', 'tokens', 'at')
local requests = tonumber(state[1]) or rpm
local tokens = tonumber(state[2]) or tpm
local at = tonumber(state[3]) or now
local elapsed = math.max(0, now - at)
requests = math.min(rpm, requests + elapsed * rpm / 60)
tokens = math.min(tpm, tokens + elapsed * tpm / 60)
local stamp = math.max(now, at)
if want < 0 then
  return {'0', '0', tostring(requests), tostring(tokens)}
end
if requests >= 1 and tokens >= want then
  requests, tokens = requests - 1, tokens - want
  redis.call('hset', KEYS[1], 'requests', tostring(requests), 'tokens', tostring(tokens),
             'at', tostring(stamp))
  redis.call('expire', KEYS[1], 120)
  return {'1', '0', tostring(requests), tostring(tokens)}
end
local wait = 0
if requests < 1 then wait = math.max(wait, (1 - requests) * 60 / rpm) end
if tokens < want then wait = math.max(wait, (want - tokens) * 60 / tpm) end
return {'0', tostring(wait), tostring(requests), tostring(tokens)}
""")
