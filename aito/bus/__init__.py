"""AITO's fast bus on Redis (key names in `keys`; redis-py only in `redis_connection`;
retries through `aito.retrying`: jittered exponential backoff within a time budget).

redis.RedisBus        the front: registry, heartbeats, alive(), deliver(), locks;
                      its `.connection` is what the modules below talk through
streams.Messenger     send / send_many (direct and group fan-out), listen,
                      request / request_all / reply, expire_requests
consuming.Consumer    poll / run / reclaim: at-least-once, handled once per id,
                      dead consumers' messages reclaimed, malformed ones dead-lettered
                      (its parts: acknowledging, reclaiming, tidying, dead_lettering)
queues.TaskQueues     priority queues with visibility timeouts and results
ratelimits.RateLimiter  requests and tokens per minute per agent (Lua token buckets)
inspecting            tail, pending, dead_letters (read-only; the CLI uses them)
base.EventSink        where audit events go (wired to Postgres by the caller)
"""
